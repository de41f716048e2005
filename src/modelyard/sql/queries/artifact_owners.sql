-- Who owns an artifact path of the MLflow artifact proxy (modelyard/store/artifact_owners.py).

-- name: run
SELECT experiment_id, artifact_uri, lifecycle_stage
FROM run
WHERE run_id = %(run_id)s AND workspace_id = %(ws)s

-- name: logged_model
SELECT experiment_id, source_run_id, artifact_path, lifecycle_stage
FROM logged_model
WHERE model_id = %(model_id)s AND workspace_id = %(ws)s
