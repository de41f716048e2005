-- MLflow's default experiment: id 0, named 'Default', so a client that never sets an experiment
-- (mlflow.start_run() alone) logs somewhere, as it does against MLflow. Identity values start at
-- 1, so 0 never collides with a generated id. A database that already has an experiment named
-- 'Default' in the default workspace keeps it and gets no experiment 0.
INSERT INTO experiment (experiment_id, workspace_id, name)
SELECT 0, 1, 'Default'
WHERE NOT EXISTS (
    SELECT 1 FROM experiment
    WHERE experiment_id = 0 OR (workspace_id = 1 AND name = 'Default')
);
