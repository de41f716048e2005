"""The store: modelyard's data access over PostgreSQL, one repository per resource.

``Store`` owns an async connection pool and exposes the repositories as attributes
(``store.experiments``, ``store.runs``, ``store.metrics``, ``store.registry``,
``store.datasets``). Every method runs in its own transaction and raises only
:mod:`modelyard.errors` exceptions.
"""

from __future__ import annotations

from modelyard.db.pool import open_pool
from modelyard.store._base import Pool
from modelyard.store.artifact_owners import ArtifactOwners
from modelyard.store.datasets import Datasets
from modelyard.store.experiment_search import ExperimentSearch
from modelyard.store.experiments import Experiment, Experiments
from modelyard.store.idempotency import Receipts
from modelyard.store.lineage import Lineage
from modelyard.store.logged_model_search import LoggedModelSearch
from modelyard.store.logged_models import LoggedModels
from modelyard.store.metric_charts import MetricCharts
from modelyard.store.metrics import Metrics
from modelyard.store.model_version_search import ModelVersionSearch
from modelyard.store.overview import Overview
from modelyard.store.pagination import Page
from modelyard.store.registered_model_search import RegisteredModelSearch
from modelyard.store.registry import Registry
from modelyard.store.run_data import LatestMetric, Run
from modelyard.store.run_links import RunLinks
from modelyard.store.run_search import RunSearch
from modelyard.store.runs import Runs

__all__ = ["Experiment", "LatestMetric", "Page", "Run", "Store"]


class Store:
    """Repositories sharing one pool."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.experiments = Experiments(pool)
        self.experiment_search = ExperimentSearch(pool)
        self.runs = Runs(pool)
        self.registry = Registry(pool)
        self.metrics = Metrics(pool)
        self.run_search = RunSearch(pool)
        self.model_version_search = ModelVersionSearch(pool)
        self.registered_model_search = RegisteredModelSearch(pool)
        self.metric_charts = MetricCharts(pool)
        self.overview = Overview(pool)
        self.datasets = Datasets(pool)
        self.lineage = Lineage(pool)
        self.logged_models = LoggedModels(pool)
        self.artifact_owners = ArtifactOwners(pool)
        self.logged_model_search = LoggedModelSearch(pool)
        self.run_links = RunLinks(pool)
        self.receipts = Receipts(pool)

    @classmethod
    async def open(
        cls,
        conninfo: str,
        schema: str,
        *,
        min_size: int = 1,
        max_size: int = 10,
        prepared_statements: bool = True,
    ) -> Store:
        return cls(
            await open_pool(
                conninfo,
                schema,
                min_size=min_size,
                max_size=max_size,
                prepared_statements=prepared_statements,
            )
        )

    async def close(self) -> None:
        await self.pool.close()
