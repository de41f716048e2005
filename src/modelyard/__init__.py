"""modelyard: ML experiment tracking and a model registry on PostgreSQL.

Training code needs only this::

    import modelyard

    with modelyard.start_run(experiment="mnist") as run:
        run.log_params({"lr": 0.01})
        for step in range(100):
            run.log_metrics({"loss": 1 / (step + 1)}, step=step)
"""

from modelyard.client import ActiveRun, Client, start_run
from modelyard.errors import ModelyardError

__all__ = ["ActiveRun", "Client", "ModelyardError", "start_run"]
