"""The two systems' REST shapes for each measured operation, behind one small interface.

Both are driven with the same raw ``httpx.Client`` (keep-alive, one per thread), request bodies
encoded with msgspec before they are sent, so the client side costs the same for both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import quote

import httpx
import msgspec

from bench._dataset import PAGE_SIZE, Series

JSON = {"content-type": "application/json"}


@dataclass(frozen=True)
class Call:
    """One HTTP request, ready to send."""

    method: str
    path: str
    body: bytes | None = None
    params: dict[str, str] = field(default_factory=dict)

    def send(self, client: httpx.Client) -> httpx.Response:
        response = client.request(
            self.method,
            self.path,
            content=self.body,
            params=self.params or None,
            headers=JSON if self.body is not None else None,
        )
        if response.status_code >= 300:
            raise RuntimeError(
                f"{self.method} {self.path}: {response.status_code} {response.text[:300]}"
            )
        return response


def _json(value: object) -> bytes:
    return msgspec.json.encode(value)


class Modelyard:
    """modelyard's ``/api/v1``."""

    name: ClassVar[str] = "modelyard"
    batch_points: ClassVar[int] = 10_000  # a client's usual flush size; the limit is 100,000

    def create_experiment(self, client: httpx.Client, name: str) -> str:
        body = Call("POST", "/api/v1/experiments", _json({"name": name})).send(client).json()
        return str(body["experiment_id"])

    def create_run(self, client: httpx.Client, experiment_id: str, name: str) -> str:
        payload = {"experiment_id": int(experiment_id), "name": name}
        return str(Call("POST", "/api/v1/runs", _json(payload)).send(client).json()["run_id"])

    def log_batch(
        self,
        run_id: str,
        keys: list[str],
        values: list[float],
        steps: list[int],
        timestamps: list[int],
    ) -> Call:
        body = {"keys": keys, "values": values, "steps": steps, "timestamps": timestamps}
        return Call("POST", f"/api/v1/runs/{run_id}/metrics", _json(body))

    def search(self, experiment_id: str, filter: str | None, order_by: tuple[str, ...]) -> Call:
        body: dict[str, Any] = {"experiment_ids": [int(experiment_id)], "max_results": PAGE_SIZE}
        if filter:
            body["filter"] = filter
        if order_by:
            body["order_by"] = list(order_by)
        return Call("POST", "/api/v1/runs/search", _json(body))

    def search_ids(self, response: httpx.Response) -> list[str]:
        return [item["run_id"] for item in response.json()["items"]]

    def read_history(self, client: httpx.Client, run_id: str, key: str) -> int:
        """Read the whole series; return the number of points."""
        path = f"/api/v1/runs/{run_id}/metrics/{quote(key, safe='')}/history"
        decoded = msgspec.json.decode(Call("GET", path).send(client).content)
        return len(decoded["steps"])

    def register_model(
        self, client: httpx.Client, name: str, run_id: str, versions: int, alias: str, target: int
    ) -> None:
        Call("POST", "/api/v1/models", _json({"name": name})).send(client)
        for _ in range(versions):
            body = {"source": f"runs:/{run_id}/model", "run_id": run_id}
            Call("POST", f"/api/v1/models/{name}/versions", _json(body)).send(client)
        Call("PUT", f"/api/v1/models/{name}/aliases/{alias}", _json({"version": target})).send(
            client
        )

    def alias(self, name: str, alias: str) -> Call:
        return Call("GET", f"/api/v1/models/{name}/aliases/{alias}")

    def alias_version(self, response: httpx.Response) -> int:
        return int(response.json()["version"])

    def seed_history(self, client: httpx.Client, run_id: str, key: str, series: Series) -> None:
        """Through the API, in the batches a client sends."""
        step = self.batch_points
        for i in range(0, len(series.steps), step):
            n = len(series.steps[i : i + step])
            self.log_batch(
                run_id,
                [key] * n,
                series.values[i : i + step],
                series.steps[i : i + step],
                series.timestamps[i : i + step],
            ).send(client)


class MLflow:
    """MLflow's ``/api/2.0/mlflow`` REST API."""

    name: ClassVar[str] = "mlflow"
    batch_points: ClassVar[int] = 1000  # log-batch accepts at most 1000 metrics
    history_page: ClassVar[int] = 25_000  # MLflow's own client pages get-history by 25,000
    prefix: ClassVar[str] = "/api/2.0/mlflow"

    def create_experiment(self, client: httpx.Client, name: str) -> str:
        call = Call("POST", f"{self.prefix}/experiments/create", _json({"name": name}))
        return str(call.send(client).json()["experiment_id"])

    def create_run(self, client: httpx.Client, experiment_id: str, name: str) -> str:
        payload = {"experiment_id": experiment_id, "run_name": name}
        response = Call("POST", f"{self.prefix}/runs/create", _json(payload)).send(client)
        return str(response.json()["run"]["info"]["run_id"])

    def log_batch(
        self,
        run_id: str,
        keys: list[str],
        values: list[float],
        steps: list[int],
        timestamps: list[int],
    ) -> Call:
        metrics = [
            {"key": k, "value": v, "step": s, "timestamp": t}
            for k, v, s, t in zip(keys, values, steps, timestamps, strict=True)
        ]
        return Call(
            "POST", f"{self.prefix}/runs/log-batch", _json({"run_id": run_id, "metrics": metrics})
        )

    def search(self, experiment_id: str, filter: str | None, order_by: tuple[str, ...]) -> Call:
        body: dict[str, Any] = {"experiment_ids": [experiment_id], "max_results": PAGE_SIZE}
        if filter:
            body["filter"] = filter
        if order_by:
            body["order_by"] = list(order_by)
        return Call("POST", f"{self.prefix}/runs/search", _json(body))

    def search_ids(self, response: httpx.Response) -> list[str]:
        return [item["info"]["run_id"] for item in response.json().get("runs", [])]

    def read_history(self, client: httpx.Client, run_id: str, key: str) -> int:
        """Page through get-history as MLflow's client does; return the number of points."""
        params = {"run_id": run_id, "metric_key": key, "max_results": str(self.history_page)}
        total = 0
        while True:
            page = msgspec.json.decode(
                Call("GET", f"{self.prefix}/metrics/get-history", params=params)
                .send(client)
                .content
            )
            total += len(page.get("metrics", []))
            token = page.get("next_page_token")
            if not token:
                return total
            params = {**params, "page_token": token}

    def register_model(
        self, client: httpx.Client, name: str, run_id: str, versions: int, alias: str, target: int
    ) -> None:
        Call("POST", f"{self.prefix}/registered-models/create", _json({"name": name})).send(client)
        for _ in range(versions):
            body = {"name": name, "source": f"runs:/{run_id}/model", "run_id": run_id}
            Call("POST", f"{self.prefix}/model-versions/create", _json(body)).send(client)
        body = {"name": name, "alias": alias, "version": str(target)}
        Call("POST", f"{self.prefix}/registered-models/alias", _json(body)).send(client)

    def alias(self, name: str, alias: str) -> Call:
        return Call(
            "GET", f"{self.prefix}/registered-models/alias", params={"name": name, "alias": alias}
        )

    def alias_version(self, response: httpx.Response) -> int:
        return int(response.json()["model_version"]["version"])


System = Modelyard | MLflow
