"""The webhook calls of ``/api/v1`` for the CLI and scripts: webhooks, deliveries, redelivery."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from modelyard.client._http import HttpSession

Json = dict[str, Any]


def _seg(value: str) -> str:
    # Ids are hex or UUIDs; anything else is refused by the server, but never alters the path.
    return value.replace("/", "%2F")


class WebhooksClient:
    """A connection to one modelyard server's webhook routes."""

    def __init__(self, url: str | None = None, *, timeout: float = 30.0) -> None:
        self._session = HttpSession(url, timeout=timeout)

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> WebhooksClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _pages(self, path: str, params: dict[str, Any]) -> Iterator[Json]:
        page: Json = self._session.request("GET", path, params=params)
        while True:
            yield from page["items"]
            token = page.get("next_page_token")
            if not token:
                return
            page = self._session.request("GET", path, params={**params, "page_token": token})

    def create(self, url: str, events: list[str], **fields: Any) -> Json:
        body = {"url": url, "events": events, **{k: v for k, v in fields.items() if v is not None}}
        created: Json = self._session.request("POST", "/webhooks", body=body)
        return created

    def list_webhooks(self) -> list[Json]:
        return list(self._pages("/webhooks", {"limit": 1000}))

    def get(self, webhook_id: str) -> Json:
        found: Json = self._session.request("GET", f"/webhooks/{_seg(webhook_id)}")
        return found

    def update(self, webhook_id: str, **fields: Any) -> Json:
        updated: Json = self._session.request(
            "PATCH", f"/webhooks/{_seg(webhook_id)}", body=fields
        )
        return updated

    def rotate_secret(
        self, webhook_id: str, secret: str | None = None, overlap_seconds: int = 0
    ) -> Json:
        body: Json = {"overlap_seconds": overlap_seconds}
        if secret is not None:
            body["secret"] = secret
        rotated: Json = self._session.request(
            "POST", f"/webhooks/{_seg(webhook_id)}/secret", body=body
        )
        return rotated

    def delete(self, webhook_id: str) -> None:
        self._session.request("DELETE", f"/webhooks/{_seg(webhook_id)}")

    def test(self, webhook_id: str, event: str | None = None) -> Json:
        body = {"event": event} if event is not None else {}
        result: Json = self._session.request(
            "POST", f"/webhooks/{_seg(webhook_id)}/test", body=body
        )
        return result

    def deliveries(self, *, webhook_id: str | None = None, state: str | None = None) -> list[Json]:
        params = {"webhook_id": webhook_id, "state": state, "limit": 1000}
        return list(self._pages("/webhook-deliveries", params))

    def delivery(self, delivery_id: str) -> Json:
        found: Json = self._session.request("GET", f"/webhook-deliveries/{_seg(delivery_id)}")
        return found

    def redeliver(self, delivery_id: str) -> Json:
        found: Json = self._session.request(
            "POST", f"/webhook-deliveries/{_seg(delivery_id)}/redeliver"
        )
        return found
