"""Chart settings of the UI over HTTP: EMA smoothing, log scale, the time axis, all read from the
query string; and the live page's bounded size."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from modelyard.server.ui import charts, live

pytestmark = pytest.mark.anyio

API = "/api/v1"
T0 = 1_700_000_000_000


def test_ema_is_bias_corrected_and_off_at_zero() -> None:
    assert charts.ema([0.0, 10.0], 0.0) == [0.0, 10.0]
    assert charts.ema([4.0, 4.0, 4.0], 0.9) == pytest.approx([4.0, 4.0, 4.0])
    # 0 then 10 at weight 0.5: (0.5 * 0 + 0.5 * 10) / (1 - 0.5 ** 2) = 5 / 0.75.
    assert charts.ema([0.0, 10.0], 0.5) == pytest.approx([0.0, 20 / 3])


async def run_with(client: httpx.AsyncClient, values: list[float]) -> str:
    exp = await client.post(f"{API}/experiments", json={"name": f"charts-{len(values)}"})
    run = await client.post(f"{API}/runs", json={"experiment_id": exp.json()["experiment_id"]})
    run_id: str = run.json()["run_id"]
    points = [
        {"key": "loss", "value": v, "step": s, "timestamp": T0 + 1000 * s}
        for s, v in enumerate(values)
    ]
    logged = await client.post(f"{API}/runs/{run_id}/metrics", json={"metrics": points})
    assert logged.status_code < 300, logged.text
    return run_id


def svg_range(page: str) -> dict[str, float]:
    found = re.search(
        r'data-x0="([^"]+)" data-x1="([^"]+)" data-y0="([^"]+)" data-y1="([^"]+)"', page
    )
    assert found, "no chart on the page"
    return dict(zip(("x0", "x1", "y0", "y1"), map(float, found.groups()), strict=True))


async def test_smoothing_log_scale_and_time_axis_come_from_the_url(
    client: httpx.AsyncClient,
) -> None:
    values = [1.0, 100.0] * 20 + [0.0, -5.0]  # zero and a negative: not drawable on a log scale
    run_id = await run_with(client, values)
    page = f"/ui/runs/{run_id}"

    raw = await client.get(page)
    assert svg_range(raw.text) == {"x0": 0, "x1": 41, "y0": -5, "y1": 100}

    smooth = await client.get(page, params={"smooth": "0.9"})
    smoothed = svg_range(smooth.text)
    assert 1 < smoothed["y1"] < 100  # the EMA never reaches the raw peaks
    assert 'name="smooth" type="number" min="0" max="0.99" step="0.01" value="0.9"' in smooth.text

    log = await client.get(page, params={"log": "1"})
    assert svg_range(log.text)["y0"] == 0 and svg_range(log.text)["y1"] == pytest.approx(2)
    assert "loss (log)" in log.text
    assert "2 point(s) not drawn" in log.text  # the zero and the negative value
    assert '<option value="1" selected>log</option>' in log.text

    by_time = await client.get(page, params={"x": "time"})
    assert svg_range(by_time.text)["x0"] == T0 and svg_range(by_time.text)["x1"] == T0 + 41_000
    assert '<option value="time" selected>time</option>' in by_time.text

    zoom = await client.get(page, params={"lo": "10", "hi": "12"})
    assert svg_range(zoom.text)["x0"] == 10 and svg_range(zoom.text)["x1"] == 12
    assert "Reset zoom" in zoom.text


async def test_the_live_page_is_bounded_and_refreshes_as_a_fragment(
    client: httpx.AsyncClient,
) -> None:
    exp = await client.post(f"{API}/experiments", json={"name": "live-bound"})
    exp_id = exp.json()["experiment_id"]
    for i in range(live.MAX_RUNS + 3):
        run: Any = await client.post(f"{API}/runs", json={"experiment_id": exp_id})
        metric = {"key": "acc", "value": i, "step": 0, "timestamp": T0}
        await client.post(f"{API}/runs/{run.json()['run_id']}/metrics", json={"metrics": [metric]})
    page = await client.get("/ui/live", params={"experiment": exp_id, "every": "3"})
    assert page.status_code == 200
    assert page.text.count('class="metric"') == live.MAX_RUNS
    assert page.text.count('<svg class="plot"') == live.MAX_RUNS
    assert 'hx-trigger="every 3s"' in page.text
    fragment = await client.get(
        "/ui/live", params={"experiment": exp_id, "every": "3"}, headers={"hx-request": "true"}
    )
    assert "<html" not in fragment.text and 'id="live"' in fragment.text
    too_fast = await client.get("/ui/live", params={"every": "1"})
    assert too_fast.status_code == 400
