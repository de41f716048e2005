"""A run with what it read and wrote (dataset inputs, logged-model inputs and outputs), read in
one round trip: MLflow's ``runs/get`` shows all of it, on every call the client makes.

The four statements (the run with its params, tags and latest metrics; its dataset inputs; its
model inputs; its model outputs) are queued in one pipeline and only then fetched, so they reach
the server together: one round trip instead of six (``Runs.get`` in a transaction, then one read
per kind of link), without a second copy of their SQL.
"""

from __future__ import annotations

import uuid

import msgspec
from psycopg.rows import dict_row

from modelyard.sql import query
from modelyard.store import validation
from modelyard.store._base import Repository
from modelyard.store.dataset_records import DatasetInput, version_from_row
from modelyard.store.logged_model_records import ModelInput, ModelOutput
from modelyard.store.run_data import Run, run_not_found, runs_from_rows


class RunWithLinks(msgspec.Struct, frozen=True, kw_only=True):
    """A run, the dataset versions and logged models it read, and the models it produced."""

    run: Run
    dataset_inputs: list[DatasetInput]
    model_inputs: list[ModelInput]
    model_outputs: list[ModelOutput]


class RunLinks(Repository):
    """Runs with their links, as one read."""

    async def get(self, run_id: str | uuid.UUID) -> RunWithLinks:
        """The run (deleted runs too, as ``Runs.get``) with its inputs and outputs."""
        rid = validation.check_uuid(run_id)
        args = {"run_ids": [rid]}
        async with self.read() as conn:
            run_cur = conn.cursor()
            datasets_cur = conn.cursor(row_factory=dict_row)
            inputs_cur = conn.cursor(row_factory=dict_row)
            outputs_cur = conn.cursor(row_factory=dict_row)
            await run_cur.execute(query("runs.load"), args)
            await datasets_cur.execute(query("datasets.inputs_of_runs"), args)
            await inputs_cur.execute(query("logged_models.inputs_of_runs"), args)
            await outputs_cur.execute(query("logged_models.outputs_of_runs"), args)
            runs = runs_from_rows(await run_cur.fetchall())
            datasets = await datasets_cur.fetchall()
            inputs = await inputs_cur.fetchall()
            outputs = await outputs_cur.fetchall()
        if not runs:
            raise run_not_found(rid)
        return RunWithLinks(
            run=runs[0],
            dataset_inputs=[
                DatasetInput(
                    dataset=version_from_row(row), context=row["context"] or None, tags=row["tags"]
                )
                for row in datasets
            ],
            model_inputs=[ModelInput(model_id=row["model_id"]) for row in inputs],
            model_outputs=[
                ModelOutput(model_id=row["model_id"], step=row["step"]) for row in outputs
            ],
        )
