"""The web UI in a real browser, as a person uses it: pages, filter, sort and columns across a
reload, a million-point chart, compare, aliases, live refresh, escaping, accessibility basics.
Screenshots of the main pages go to docs/screenshots/."""

from __future__ import annotations

import math
import re
import struct
import uuid
import zlib
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect
from ui_support import SCREENSHOTS, LiveServer, Page, seed

from modelyard.store import Store
from modelyard.store.metrics import MetricBatch

# A version source inside the server's own artifacts (the only kind it accepts).
SRC = "runs:/" + "5" * 32

XSS = "<img src=x onerror=alert(1)>"
SPIKE_STEP = 654_321
POINTS = 1_000_000
T0 = 1_700_000_000_000


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def put_artifact(server: LiveServer, run_id: str, path: str, data: bytes) -> None:
    response = httpx.put(f"{server.url}/api/v1/runs/{run_id}/artifacts/{path}", content=data)
    assert response.status_code == 201, response.text


def tiny_png() -> bytes:
    """A 16x16 PNG made here (a diagonal gradient), so the test needs no image file."""
    rows = b"".join(
        b"\x00" + bytes(v for x in range(16) for v in (x * 16, y * 16, 128)) for y in range(16)
    )

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 16, 16, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))  # fmt: skip


def sweep(server: LiveServer, name: str) -> dict[str, Any]:
    """An experiment of four runs (one nested under another), params, tags and short metrics."""
    exp = server.api("POST", "/experiments", json={"name": name})
    runs = []
    for i, (lr, opt) in enumerate([("0.1", "adam"), ("0.01", "adam"), ("0.001", "sgd")]):
        run = server.api(
            "POST", "/runs", json={"experiment_id": exp["experiment_id"], "name": f"trial-{i}"}
        )
        server.api("POST", f"/runs/{run['run_id']}/params", json={"params": {"lr": lr, "opt": opt}})
        server.api("POST", f"/runs/{run['run_id']}/tags", json={"tags": {"team": "vision"}})
        points = [
            {"key": "loss", "value": 1 / (s + 1) + i, "step": s, "timestamp": T0 + s}
            for s in range(50)
        ]
        server.api("POST", f"/runs/{run['run_id']}/metrics", json={"metrics": points})
        runs.append(run)
    child = server.api(
        "POST",
        "/runs",
        json={
            "experiment_id": exp["experiment_id"],
            "name": "child",
            "parent_run_id": runs[0]["run_id"],
        },
    )
    return {"experiment": exp, "runs": runs, "child": child}


@pytest.fixture(scope="module")
def million(live_server: LiveServer) -> dict[str, Any]:
    """A run with a 1,000,000-point metric holding one spike at a step no stride hits."""

    async def make(store: Store) -> dict[str, Any]:
        exp = await store.experiments.create(unique("million"))
        run = await store.runs.create(exp.experiment_id, name="long-run")
        for lo in range(0, POINTS, 100_000):
            steps = list(range(lo, lo + 100_000))
            values = [math.sin(s / 20_000) for s in steps]
            if lo <= SPIKE_STEP < lo + 100_000:
                values[SPIKE_STEP - lo] = 50.0
            await store.metrics.log(
                run.run_id,
                MetricBatch(
                    keys=["loss"] * len(steps),
                    values=values,
                    steps=steps,
                    timestamps=[T0 + s for s in steps],
                ),
            )
        return {"experiment_id": exp.experiment_id, "run_id": run.run_id}

    made: dict[str, Any] = seed(live_server.dsn, make)
    return made


def test_pages_load_without_console_errors_and_are_captured(
    page: Page, live_server: LiveServer, million: dict[str, Any]
) -> None:
    data = sweep(live_server, unique("tour"))
    exp_id = data["experiment"]["experiment_id"]
    run_id = data["runs"][0]["run_id"]
    live_server.api("POST", "/models", json={"name": unique("classifier")})
    model = live_server.api("GET", "/models")["items"][-1]["name"]
    live_server.api(
        "POST", f"/models/{model}/versions", json={"source": f"{SRC}/m/1", "run_id": run_id}
    )
    live_server.api("PUT", f"/models/{model}/aliases/champion", json={"version": 1})
    live_server.api(
        "POST", f"/runs/{run_id}/inputs",
        json={"datasets": [{"name": "images", "digest": "abc123", "context": "training"}]},
    )  # fmt: skip
    put_artifact(live_server, run_id, "plots/curve.png", tiny_png())
    put_artifact(live_server, run_id, "config.json", b'{"lr": 0.1, "layers": [64, 64]}')
    compare = "/ui/compare?" + "&".join(f"run={r['run_id']}" for r in data["runs"])
    shots = {
        "experiments": "/",
        "runs-table": f"/ui/experiments/{exp_id}?open={run_id}",
        "run-page": f"/ui/runs/{million['run_id']}",
        "run-page-small": f"/ui/runs/{run_id}",
        "compare": compare,
        "registry": "/ui/models",
        "model": f"/ui/models/{model}",
        "live": "/ui/live",
        "lineage": f"/ui/lineage?uri=models:/{model}/1",
        "artifacts": f"/ui/runs/{run_id}/artifacts?path=plots",
        "artifact-image": f"/ui/runs/{run_id}/artifacts/view?path=plots/curve.png",
        "artifact-json": f"/ui/runs/{run_id}/artifacts/view?path=config.json",
    }
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for name, path in shots.items():
        shown = page.open(path)
        assert shown.locator("h1").count() == 1, path
        assert page.errors == [], (path, page.errors)
        if name not in ("run-page-small",):
            shown.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    shown = page.open("/ui/experiments/" + str(exp_id))
    shown.click("#theme-toggle")
    assert shown.locator("html").get_attribute("data-theme") in ("dark", "light")
    shown.reload()
    assert shown.locator("html").get_attribute("data-theme") is not None  # kept by cookie
    shown.screenshot(path=str(SCREENSHOTS / "runs-table-other-theme.png"))
    assert page.errors == []


def test_narrow_screen_is_readable(browser: Any, live_server: LiveServer) -> None:
    data = sweep(live_server, unique("narrow"))
    narrow = Page(browser, live_server.url, width=390)
    try:
        shown = narrow.open(f"/ui/experiments/{data['experiment']['experiment_id']}")
        # The page itself does not scroll sideways; only the table's own container may.
        width = shown.evaluate("document.documentElement.scrollWidth")
        assert width <= 390 + 1
        shown.screenshot(path=str(SCREENSHOTS / "runs-table-narrow.png"))
        assert narrow.errors == []
    finally:
        narrow.close()


def test_filter_finds_a_run_and_shows_a_malformed_filters_error(
    page: Page, live_server: LiveServer
) -> None:
    data = sweep(live_server, unique("filter"))
    shown = page.open(f"/ui/experiments/{data['experiment']['experiment_id']}")
    shown.fill("#filter", "params.lr = '0.01' or (params.opt = 'sgd' and NOT metrics.loss > 99)")
    shown.press("#filter", "Enter")
    shown.wait_for_url(re.compile(r"filter="))
    names = shown.locator("#runs-table td.name a:not(.toggle)").all_inner_texts()
    assert sorted(names) == ["trial-1", "trial-2"]
    shown.fill("#filter", "metrics.loss < and")
    shown.press("#filter", "Enter")
    alert = shown.locator("#filter-error")
    alert.wait_for()
    assert "position 15" in alert.inner_text()
    assert alert.locator("mark").inner_text() == "a"
    assert shown.locator("#filter").get_attribute("aria-invalid") == "true"
    assert page.errors == []


def test_sort_and_column_choice_survive_a_reload(page: Page, live_server: LiveServer) -> None:
    data = sweep(live_server, unique("sort"))
    shown = page.open(f"/ui/experiments/{data['experiment']['experiment_id']}")
    shown.locator("details.chooser summary").click()
    for box in shown.locator("details.chooser input[name=col]").all():
        if box.get_attribute("value") in ("params.lr", "metrics.loss"):
            box.check()
        else:
            box.uncheck()
    shown.locator("details.chooser button[type=submit]").click()
    shown.wait_for_url(re.compile(r"col="))
    shown.locator("#runs-table thead a", has_text="loss").click()
    shown.wait_for_url(re.compile(r"sort="))
    shown.locator("#runs-table thead a", has_text="loss").click()  # now ascending
    shown.wait_for_url(re.compile(r"dir=asc"))

    def state() -> tuple[list[str], list[str]]:
        heads = shown.locator("#runs-table thead th").all_inner_texts()
        names = shown.locator("#runs-table td.name > a:not(.toggle)").all_inner_texts()
        return [h.split("\n")[0].strip() for h in heads[2:]], names

    before = state()
    assert before[0][0].startswith("lr") or before[0][0].startswith("loss")
    assert len(before[0]) == 2
    assert before[1] == ["trial-0", "trial-1", "trial-2"]
    shown.reload()
    assert state() == before
    assert page.errors == []


def test_million_point_chart_is_bounded_keeps_the_spike_and_zooms(
    page: Page, million: dict[str, Any]
) -> None:
    shown = page.open(f"/ui/runs/{million['run_id']}")
    line = shown.locator("svg.plot polyline").first
    pairs = line.get_attribute("points").split()
    assert 100 < len(pairs) <= 5000
    total = shown.locator("svg.plot polyline").evaluate_all(
        "lines => lines.reduce((n, l) => n + l.points.numberOfItems, 0)"
    )
    assert total <= 5000
    # The spike (50 among values in [-1, 1]) is drawn: the y range reaches it, and the highest
    # point sits at its step (within two pixels of x).
    assert_spike_drawn(shown.locator("svg.plot").first, pairs)
    # A naive sampler with the same budget (every n-th point) would miss the spike.
    stride = POINTS // len(pairs)
    assert SPIKE_STEP % stride != 0
    # Drag across the spike, twice: each time the URL gets the range and the server answers
    # for it; the second range is narrow enough for every point of it.
    for _ in range(2):
        drag_across(shown, SPIKE_STEP, half_width_px=5)
    zoomed = shown.locator("svg.plot polyline").first
    legend = shown.locator("figure.chart .legend").first.inner_text()
    assert "min/max" not in legend  # full detail: every point of the range
    zoomed_pairs = zoomed.get_attribute("points").split()
    assert 2 < len(zoomed_pairs) <= 5000
    assert_spike_drawn(shown.locator("svg.plot").first, zoomed_pairs)
    assert page.errors == []


def assert_spike_drawn(svg: Any, pairs: list[str]) -> None:
    assert float(svg.get_attribute("data-y1")) == 50.0
    x0, x1 = float(svg.get_attribute("data-x0")), float(svg.get_attribute("data-x1"))
    xs = [float(p.split(",")[0]) for p in pairs]
    ys = [float(p.split(",")[1]) for p in pairs]
    top = ys.index(min(ys))
    assert ys[top] == pytest.approx(12.0, abs=0.5)  # the top of the plot area
    step_per_px = (x1 - x0) / 724
    assert abs(x0 + (xs[top] - 64) * step_per_px - SPIKE_STEP) <= 2 * step_per_px + 1


def drag_across(shown: Any, step: float, half_width_px: float) -> None:
    """Drag on the first chart around x = ``step`` and wait for the zoomed page."""
    svg = shown.locator("svg.plot").first
    svg.scroll_into_view_if_needed()
    box = svg.bounding_box()
    x0, x1 = float(svg.get_attribute("data-x0")), float(svg.get_attribute("data-x1"))
    x = box["x"] + (64 + (step - x0) / (x1 - x0) * 724) / 800 * box["width"]
    y = box["y"] + box["height"] / 2
    before = shown.url
    shown.mouse.move(x - half_width_px, y)
    shown.mouse.down()
    shown.mouse.move(x + half_width_px, y, steps=5)
    shown.mouse.up()
    shown.wait_for_url(lambda url: url != before and "lo=" in url and "hi=" in url)
    shown.wait_for_load_state("load")


def test_compare_shows_only_differences(page: Page, live_server: LiveServer) -> None:
    data = sweep(live_server, unique("compare"))
    query = "&".join(f"run={r['run_id']}" for r in data["runs"][:2])
    shown = page.open(f"/ui/compare?{query}")
    keys = shown.locator("#params tbody td:first-child").all_inner_texts()
    assert keys == ["lr", "opt"]
    shown.check("#diff")
    shown.locator("form.bar button", has_text="Apply").first.click()
    shown.wait_for_url(re.compile(r"diff=1"))
    assert shown.locator("#params tbody td:first-child").all_inner_texts() == ["lr"]
    assert shown.locator("#tags tbody td").first.inner_text() == "No differences."
    assert shown.locator("#parallel polyline").count() == 2
    assert page.errors == []


def test_alias_moved_in_the_ui_is_seen_by_the_api(page: Page, live_server: LiveServer) -> None:
    name = unique("registry")
    live_server.api("POST", "/models", json={"name": name})
    for i in (1, 2):
        live_server.api("POST", f"/models/{name}/versions", json={"source": f"{SRC}/m/{i}"})
    live_server.api("PUT", f"/models/{name}/aliases/prod", json={"version": 1})
    shown = page.open(f"/ui/models/{name}")
    shown.fill("#alias", "prod")
    shown.select_option("#alias-version", "2")
    shown.click("#alias-form button[type=submit]")
    shown.wait_for_load_state("load")
    assert "prod now points at version 2" in shown.locator(".flash").inner_text()
    assert live_server.api("GET", f"/models/{name}/aliases/prod")["version"] == 2
    assert page.errors == []


def test_live_page_refreshes_values_without_a_reload(page: Page, live_server: LiveServer) -> None:
    exp = live_server.api("POST", "/experiments", json={"name": unique("live")})
    run = live_server.api("POST", "/runs", json={"experiment_id": exp["experiment_id"]})
    metric = {"key": "acc", "value": 0.25, "step": 1, "timestamp": T0}
    live_server.api("POST", f"/runs/{run['run_id']}/metrics", json={"metrics": [metric]})
    shown = page.open(f"/ui/live?experiment={exp['experiment_id']}&every=2")
    shown.evaluate("window.__notReloaded = true")
    cell = shown.locator("#live-runs .metric[data-key=acc]")
    assert "acc=0.25" in cell.inner_text()
    metric = {"key": "acc", "value": 0.75, "step": 2, "timestamp": T0 + 1}
    live_server.api("POST", f"/runs/{run['run_id']}/metrics", json={"metrics": [metric]})
    # A bounded wait for the next poll (every 2 s): the row is swapped in place.
    expect(cell).to_contain_text("acc=0.75", timeout=15_000)
    assert shown.evaluate("window.__notReloaded") is True
    assert page.errors == []


def test_xss_run_name_renders_as_text(page: Page, live_server: LiveServer) -> None:
    exp = live_server.api("POST", "/experiments", json={"name": unique("xss")})
    run = live_server.api(
        "POST", "/runs", json={"experiment_id": exp["experiment_id"], "name": XSS}
    )
    for path in (f"/ui/experiments/{exp['experiment_id']}", f"/ui/runs/{run['run_id']}"):
        shown = page.open(path)
        assert XSS in shown.locator("body").inner_text()
        assert shown.locator("img[src=x]").count() == 0
    assert page.errors == []  # no alert dialog, no script error


CONTROLS_UNLABELLED = """() => Array.from(document.querySelectorAll(
  'input:not([type=hidden]), select, textarea, button')).filter(el => {
    if (el.labels && el.labels.length) return false;
    if (el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')) return false;
    if (el.tagName === 'BUTTON' && el.textContent.trim()) return false;
    return true;
  }).map(el => el.outerHTML.slice(0, 120))"""

# Text colour on the background it is drawn on, as the stylesheet pairs them: links and
# buttons sit on --panel in headers and table heads, marked filter text on --mark.
CONTRAST_PAIRS = [
    ("--fg", "--bg"), ("--muted", "--bg"), ("--link", "--bg"), ("--danger", "--bg"),
    ("--ok", "--bg"), ("--accent", "--bg"), ("--warn", "--bg"), ("--fg", "--panel"),
    ("--muted", "--panel"), ("--link", "--panel"), ("--danger", "--panel"), ("--fg", "--mark"),
]  # fmt: skip

CONTRAST = """pairs => {
  function color(name) {
    const probe = document.createElement('span');
    probe.style.color = getComputedStyle(document.documentElement).getPropertyValue(name);
    document.body.appendChild(probe);
    const found = getComputedStyle(probe).color.match(/[\\d.]+/g).slice(0, 3).map(Number);
    probe.remove();
    return found;
  }
  function lum(c) {
    const [r, g, b] = c.map(v => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  }
  const out = {};
  for (const [fg, bg] of pairs) {
    const [x, y] = [lum(color(fg)), lum(color(bg))].sort((p, q) => q - p);
    out[fg + ' on ' + bg] = (x + 0.05) / (y + 0.05);
  }
  return out;
}"""


def test_accessibility_labels_keyboard_and_contrast(page: Page, live_server: LiveServer) -> None:
    data = sweep(live_server, unique("a11y"))
    exp_id = data["experiment"]["experiment_id"]
    run_id = data["runs"][0]["run_id"]
    query = "&".join(f"run={r['run_id']}" for r in data["runs"])
    model = unique("a11y-model")
    live_server.api("POST", "/models", json={"name": model})
    live_server.api(
        "POST", f"/models/{model}/versions", json={"source": f"{SRC}/m/1", "run_id": run_id}
    )
    put_artifact(live_server, run_id, "notes/readme.txt", b"hello")
    for path in ("/", f"/ui/experiments/{exp_id}", f"/ui/runs/{run_id}", f"/ui/compare?{query}",
                 "/ui/models", f"/ui/models/{model}", "/ui/live",
                 f"/ui/lineage?uri=models:/{model}/1", f"/ui/runs/{run_id}/artifacts?path=notes",
                 f"/ui/runs/{run_id}/artifacts/view?path=notes/readme.txt"):  # fmt: skip
        shown = page.open(path)
        assert shown.evaluate(CONTROLS_UNLABELLED) == [], path
    # Keyboard: from the top of the runs page, Tab reaches the filter; Enter applies it.
    shown = page.open(f"/ui/experiments/{exp_id}")
    for _ in range(40):
        shown.keyboard.press("Tab")
        if shown.evaluate("document.activeElement.id") == "filter":
            break
    else:
        pytest.fail("Tab never reached the filter box")
    shown.keyboard.type("params.opt = 'sgd'")
    shown.keyboard.press("Enter")
    shown.wait_for_url(re.compile(r"filter="))
    assert shown.locator("#runs-table td.name a:not(.toggle)").all_inner_texts() == ["trial-2"]
    # The tree opens by keyboard: Tab to trial-0's toggle, Enter shows its child under it.
    shown = page.open(f"/ui/experiments/{exp_id}")
    for _ in range(80):
        shown.keyboard.press("Tab")
        if shown.evaluate("document.activeElement.classList.contains('toggle')"):
            break
    else:
        pytest.fail("Tab never reached a tree toggle")
    # Focus is visible: the focused element draws an outline.
    assert shown.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    shown.keyboard.press("Enter")
    shown.wait_for_url(re.compile(r"open="))
    assert "child" in shown.locator("#runs-table td.name a:not(.toggle)").all_inner_texts()
    # Contrast of both themes (WCAG AA: 4.5 for text), as the system's preference picks them
    # and as the toggle sets them (data-theme), worked out here from the computed colours.
    for scheme, toggled in (("light", None), ("dark", None), ("light", "dark"), ("dark", "light")):
        shown.emulate_media(color_scheme=scheme)
        shown.evaluate(
            "t => t ? document.documentElement.setAttribute('data-theme', t)"
            " : document.documentElement.removeAttribute('data-theme')",
            toggled,
        )
        ratios = shown.evaluate(CONTRAST, CONTRAST_PAIRS)
        assert len(ratios) == len(CONTRAST_PAIRS)
        low = {name: round(value, 2) for name, value in ratios.items() if value < 4.5}
        assert low == {}, (scheme, toggled, low)
    assert page.errors == []


def test_artifact_browser_downloads_a_file_byte_exact(
    page: Page, live_server: LiveServer
) -> None:
    data = sweep(live_server, unique("download"))
    run_id = data["runs"][0]["run_id"]
    payload = bytes(range(256)) * 4096 + b"\r\n\x00end"  # 1 MiB and a bit, every byte value
    put_artifact(live_server, run_id, "model/weights.bin", payload)
    shown = page.open(f"/ui/runs/{run_id}")
    shown.click("text=Browse the artifacts")
    shown.click("#artifacts a:text('model/')")
    shown.click("#artifacts a:text('weights.bin')")
    shown.wait_for_selector("#download")
    with shown.expect_download() as info:
        shown.click("#download")
    saved = info.value.path()
    with open(saved, "rb") as handle:
        assert handle.read() == payload
    assert info.value.suggested_filename == "weights.bin"
    assert page.errors == []
