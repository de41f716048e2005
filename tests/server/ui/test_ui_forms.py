"""The web UI over HTTP without a browser: pages render, forms need their CSRF token, user text is
escaped, view state comes from the query string, CSV export, bulk actions, registry aliases."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import httpx
import pytest
from form_support import csrf_token

# A version source inside the server's own artifacts (the only kind it accepts).
SRC = "runs:/" + "5" * 32

pytestmark = pytest.mark.anyio

API = "/api/v1"
XSS = "<img src=x onerror=alert(1)>"
token = csrf_token


async def post_form(
    client: httpx.AsyncClient, path: str, data: dict[str, Any], page: str = "/"
) -> httpx.Response:
    return await client.post(path, data={**data, "csrf_token": await token(client, page)})


async def api(client: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> Any:
    response = await client.request(method, API + path, **kwargs)
    assert response.status_code < 300, response.text
    return response.json() if response.content else None


async def experiment_with_runs(
    client: httpx.AsyncClient, name: str, count: int
) -> tuple[int, list[str]]:
    exp = await api(client, "POST", "/experiments", json={"name": name})
    runs = []
    for i in range(count):
        run = await api(
            client, "POST", "/runs", json={"experiment_id": exp["experiment_id"], "name": f"r{i}"}
        )
        await api(client, "POST", f"/runs/{run['run_id']}/params", json={"params": {"lr": str(i)}})
        await api(
            client,
            "POST",
            f"/runs/{run['run_id']}/metrics",
            json={"metrics": [{"key": "loss", "value": 10 - i, "step": 0, "timestamp": 1}]},
        )
        runs.append(run["run_id"])
    return exp["experiment_id"], runs


async def test_state_changing_forms_refuse_a_missing_or_forged_token(
    client: httpx.AsyncClient,
) -> None:
    await client.get("/")  # sets the nonce cookie
    refused = await client.post("/ui/experiments/new", data={"name": "x"})
    assert refused.status_code == 403
    forged = await client.post("/ui/experiments/new", data={"name": "x", "csrf_token": "0" * 64})
    assert forged.status_code == 403
    # A token is bound to its own cookie: another browser's token does not pass with ours.
    other = await token(client)
    client.cookies.set("modelyard_csrf", "another-browser-nonce-0123456789")
    assert (
        await client.post("/ui/experiments/new", data={"name": "x", "csrf_token": other})
    ).status_code == 403
    listed = await api(client, "GET", "/experiments")
    assert [e["name"] for e in listed["items"]] == ["Default"]  # only experiment 0


async def test_experiment_create_rename_delete_restore(client: httpx.AsyncClient) -> None:
    created = await post_form(client, "/ui/experiments/new", {"name": "first"})
    assert created.status_code == 303
    exp_id = int(created.headers["location"].rsplit("/", 1)[1])
    page = await client.get("/")
    assert "first" in page.text and "Created first" in page.text
    renamed = await post_form(client, f"/ui/experiments/{exp_id}/rename", {"name": "second"})
    assert renamed.status_code == 303
    assert (await api(client, "GET", f"/experiments/{exp_id}"))["name"] == "second"
    await post_form(client, f"/ui/experiments/{exp_id}/delete", {"next": "/"})
    assert (await api(client, "GET", f"/experiments/{exp_id}"))["lifecycle_stage"] == "deleted"
    assert "second" not in (await client.get("/")).text
    assert "second" in (await client.get("/?lifecycle=deleted")).text
    await post_form(client, f"/ui/experiments/{exp_id}/restore", {"next": "/"})
    assert (await api(client, "GET", f"/experiments/{exp_id}"))["lifecycle_stage"] == "active"
    taken = await post_form(client, "/ui/experiments/new", {"name": "second"})
    assert taken.status_code == 409 and "already" in taken.text.lower()


async def test_user_strings_are_escaped_everywhere(client: httpx.AsyncClient) -> None:
    exp = await api(client, "POST", "/experiments", json={"name": XSS})
    body = {"experiment_id": exp["experiment_id"], "name": XSS}
    run = await api(client, "POST", "/runs", json=body)
    await api(client, "POST", f"/runs/{run['run_id']}/tags", json={"tags": {"note": XSS}})
    await api(client, "POST", f"/runs/{run['run_id']}/params", json={"params": {"p": XSS}})
    pages = ["/", f"/ui/experiments/{exp['experiment_id']}", f"/ui/runs/{run['run_id']}"]
    for path in pages:
        page = await client.get(path)
        assert page.status_code == 200
        assert XSS not in page.text, path
        assert "&lt;img src=x onerror=alert(1)&gt;" in page.text, path
        assert "script-src 'self'" in page.headers["content-security-policy"]


async def test_runs_table_view_state_sort_columns_summary_and_filter_error(
    client: httpx.AsyncClient,
) -> None:
    exp_id, runs = await experiment_with_runs(client, "sweep", 3)
    base = f"/ui/experiments/{exp_id}"
    ordered = await client.get(base, params={"sort": "metrics.loss", "dir": "asc"})
    names = re.findall(r'href="/ui/runs/[0-9a-f]{32}">(r\d)</a>', ordered.text)
    assert names == ["r2", "r1", "r0"]
    chosen = await client.get(base, params=[("col", "params.lr"), ("col", "metrics.loss")])
    header = chosen.text.split("<thead>")[1].split("</thead>")[0]
    assert "lr" in header and "loss" in header and "Started" not in header
    found = await client.get(base, params={"filter": "params.lr = '1' or metrics.loss > 9.5"})
    assert sorted(re.findall(r">(r\d)</a>", found.text)) == ["r0", "r1"]
    broken = await client.get(base, params={"filter": "metrics.loss < and"})
    assert 'role="alert"' in broken.text and "position 15" in broken.text
    assert "<mark>a</mark>" in broken.text
    await api(
        client,
        "POST",
        f"/runs/{runs[0]}/metrics",
        json={"metrics": [{"key": "loss", "value": -3, "step": 1, "timestamp": 2},
                          {"key": "loss", "value": 1, "step": 2, "timestamp": 3}]},
    )  # fmt: skip
    minimum = await client.get(base, params=[("col", "metrics.loss"), ("agg.loss", "min")])
    assert re.search(r'<td class="metrics">-3</td>', minimum.text)
    last = await client.get(base, params=[("col", "metrics.loss")])
    assert not re.search(r'<td class="metrics">-3</td>', last.text)


async def test_nested_runs_open_to_any_depth(client: httpx.AsyncClient) -> None:
    exp = await api(client, "POST", "/experiments", json={"name": "nested"})
    parent = None
    ids = []
    for depth in range(4):
        body: dict[str, Any] = {"experiment_id": exp["experiment_id"], "name": f"level{depth}"}
        if parent:
            body["parent_run_id"] = parent
        parent = (await api(client, "POST", "/runs", json=body))["run_id"]
        ids.append(parent)
    base = f"/ui/experiments/{exp['experiment_id']}"
    top = await client.get(base)
    assert re.findall(r">(level\d)</a>", top.text) == ["level0"]
    opened = await client.get(base, params=[("open", i) for i in ids[:3]])
    assert re.findall(r">(level\d)</a>", opened.text) == ["level0", "level1", "level2", "level3"]
    assert "depth-3" in opened.text


async def test_csv_export_of_the_current_view(client: httpx.AsyncClient) -> None:
    exp_id, _ = await experiment_with_runs(client, "csv", 3)
    response = await client.get(
        f"/ui/experiments/{exp_id}/runs.csv",
        params=[("filter", "metrics.loss < 10"), ("sort", "params.lr"), ("dir", "asc"),
                ("col", "params.lr"), ("col", "metrics.loss")],
    )  # fmt: skip
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["run_id", "run_name", "params.lr", "metrics.loss"]
    assert [r[1:] for r in rows[1:]] == [["r1", "1", "9"], ["r2", "2", "8"]]


async def test_bulk_tag_delete_restore_and_compare(client: httpx.AsyncClient) -> None:
    exp_id, runs = await experiment_with_runs(client, "bulk", 3)
    page = f"/ui/experiments/{exp_id}"
    tagged = await post_form(
        client, f"{page}/bulk",
        {"action": "tag", "run": runs[:2], "tag_key": "team", "tag_value": "v", "next": page},
        page,
    )  # fmt: skip
    assert tagged.status_code == 303 and tagged.headers["location"] == page
    for run_id, expected in zip(runs, ["v", "v", None], strict=True):
        assert (await api(client, "GET", f"/runs/{run_id}"))["tags"].get("team") == expected
    await post_form(client, f"{page}/bulk", {"action": "delete", "run": runs[:2]}, page)
    assert (await api(client, "GET", f"/runs/{runs[0]}"))["lifecycle_stage"] == "deleted"
    await post_form(client, f"{page}/bulk", {"action": "restore", "run": runs[:2]}, page)
    assert (await api(client, "GET", f"/runs/{runs[0]}"))["lifecycle_stage"] == "active"
    compared = await post_form(client, f"{page}/bulk", {"action": "compare", "run": runs}, page)
    assert compared.headers["location"].startswith("/ui/compare?run=")
    assert (await client.get(compared.headers["location"])).status_code == 200


async def test_compare_differences_only(client: httpx.AsyncClient) -> None:
    exp = await api(client, "POST", "/experiments", json={"name": "cmp"})
    runs = []
    for lr in ["0.1", "0.2"]:
        run = await api(client, "POST", "/runs", json={"experiment_id": exp["experiment_id"]})
        params = {"lr": lr, "optimizer": "adam"}
        await api(client, "POST", f"/runs/{run['run_id']}/params", json={"params": params})
        runs.append(run["run_id"])
    query = [("run", r) for r in runs]
    both = (await client.get("/ui/compare", params=query)).text
    assert "optimizer" in both and "lr" in both
    only = (await client.get("/ui/compare", params=[*query, ("diff", "1")])).text
    table = only.split('id="params"')[1].split("</table>")[0]
    assert "lr" in table and "optimizer" not in table
    assert (await client.get("/ui/compare", params=query[:1])).status_code == 400


async def test_alias_moved_in_the_ui_is_seen_by_the_api(client: httpx.AsyncClient) -> None:
    await api(client, "POST", "/models", json={"name": "clf"})
    for i in (1, 2):
        await api(client, "POST", "/models/clf/versions", json={"source": f"{SRC}/m/{i}"})
    page = "/ui/models/clf"
    await post_form(client, f"{page}/aliases", {"alias": "champion", "version": "1"}, page)
    assert (await api(client, "GET", "/models/clf/aliases/champion"))["version"] == 1
    await post_form(client, f"{page}/aliases", {"alias": "champion", "version": "2"}, page)
    assert (await api(client, "GET", "/models/clf/aliases/champion"))["version"] == 2
    assert "champion" in (await client.get(page)).text
    bad = await post_form(client, f"{page}/aliases", {"alias": "v3", "version": "1"}, page)
    assert bad.status_code == 400


async def test_run_page_edits_description_and_tags(client: httpx.AsyncClient) -> None:
    _, runs = await experiment_with_runs(client, "edit", 1)
    page = f"/ui/runs/{runs[0]}"
    await post_form(client, f"{page}/description", {"description": "first try"}, page)
    await post_form(client, f"{page}/tags", {"key": "stage", "value": "dev"}, page)
    tags = (await api(client, "GET", f"/runs/{runs[0]}"))["tags"]
    assert tags == {"mlflow.note.content": "first try", "stage": "dev"}
    await post_form(client, f"{page}/tags/delete", {"key": "stage"}, page)
    assert "stage" not in (await api(client, "GET", f"/runs/{runs[0]}"))["tags"]
    shown = (await client.get(page)).text
    assert "first try" in shown and "<svg" in shown


async def test_bad_view_parameters_are_an_html_400(client: httpx.AsyncClient) -> None:
    exp_id, runs = await experiment_with_runs(client, "bad", 1)
    for path, params in [
        (f"/ui/experiments/{exp_id}", {"col": "nonsense"}),
        (f"/ui/experiments/{exp_id}", {"dir": "sideways"}),
        (f"/ui/runs/{runs[0]}", {"smooth": "2"}),
        (f"/ui/runs/{runs[0]}", {"x": "epoch"}),
        ("/ui/runs/not-a-run", {}),
    ]:
        response = await client.get(path, params=params)
        assert response.status_code == 400, (path, params)
        assert response.headers["content-type"].startswith("text/html")
    assert (await client.get("/ui/experiments/99999")).status_code == 404


async def test_artifact_browser_lists_previews_and_downloads(client: httpx.AsyncClient) -> None:
    _, runs = await experiment_with_runs(client, "artifacts", 1)
    run = runs[0]
    files = {
        "notes.txt": b"hello <b>world</b>\n",
        "metrics/summary.json": b'{"acc": 0.9, "f1": [1, 2]}',
        "data/table.csv": b"a,b\n" + b"".join(f"{i},{i * i}\n".encode() for i in range(500)),
        "big.log": b"x" * (300 * 1024),
        "page.html": b"<script>alert(1)</script>",
    }
    for path, data in files.items():
        stored = await client.put(f"{API}/runs/{run}/artifacts/{path}", content=data)
        assert stored.status_code == 201, stored.text
    root = (await client.get(f"/ui/runs/{run}/artifacts")).text
    assert "notes.txt" in root and "metrics/" in root and "data/" in root
    inner = (await client.get(f"/ui/runs/{run}/artifacts", params={"path": "metrics"})).text
    assert "summary.json" in inner
    text = (await client.get(f"/ui/runs/{run}/artifacts/view", params={"path": "notes.txt"})).text
    assert "hello &lt;b&gt;world&lt;/b&gt;" in text
    shown = await client.get(
        f"/ui/runs/{run}/artifacts/view", params={"path": "metrics/summary.json"}
    )
    assert '"acc": 0.9' in shown.text.replace("&#34;", '"')
    table = (
        await client.get(f"/ui/runs/{run}/artifacts/view", params={"path": "data/table.csv"})
    ).text
    assert table.count("<tr>") == 21  # the header and the first 20 rows
    big = (await client.get(f"/ui/runs/{run}/artifacts/view", params={"path": "big.log"})).text
    assert "The first 64" in big and big.count("x") < 70 * 1024
    html = (await client.get(f"/ui/runs/{run}/artifacts/view", params={"path": "page.html"})).text
    assert "<script>alert(1)</script>" not in html
    for path, data in files.items():
        got = await client.get(f"/ui/runs/{run}/artifacts/download", params={"path": path})
        assert got.status_code == 200 and got.content == data, path
        assert got.headers["content-disposition"].startswith("attachment")
    refused = await client.get(f"/ui/runs/{run}/artifacts/raw", params={"path": "page.html"})
    assert refused.status_code == 400
    missing = await client.get(f"/ui/runs/{run}/artifacts/view", params={"path": "nope.txt"})
    assert missing.status_code == 404
    escape = await client.get(f"/ui/runs/{run}/artifacts/view", params={"path": "../x"})
    assert escape.status_code == 400


async def test_run_page_datasets_and_lineage_graph(client: httpx.AsyncClient) -> None:
    _, runs = await experiment_with_runs(client, "lineage", 1)
    run = runs[0]
    await api(
        client, "POST", f"/runs/{run}/inputs",
        json={"datasets": [{"name": "iris", "digest": "d1", "context": "training"}]},
    )  # fmt: skip
    outputs = {"datasets": [{"name": "preds", "digest": "p1"}]}
    await api(client, "POST", f"/runs/{run}/outputs", json=outputs)
    await api(client, "POST", "/models", json={"name": "iris-clf"})
    version = {"source": f"{SRC}/m", "run_id": run}
    await api(client, "POST", "/models/iris-clf/versions", json=version)
    page = (await client.get(f"/ui/runs/{run}")).text
    inputs = page.split('id="inputs"')[1].split("</td>")[0]
    assert "iris@d1" in inputs and "training" in inputs
    assert "preds@p1" in page.split('id="outputs"')[1].split("</td>")[0]
    up = await client.get("/ui/lineage", params={"uri": "models:/iris-clf/1"})
    assert up.status_code == 200
    kinds = re.findall(r'class="node" data-kind="([a-z_]+)"', up.text)
    assert sorted(kinds) == ["dataset_version", "model_version", "run"]
    edges = re.findall(r'marker-end="url\(#arrow\)" data-kind="([a-z]+)"', up.text)
    assert sorted(edges) == ["input", "registered"]  # dataset -> run -> model version
    down = await client.get("/ui/lineage", params={"uri": "dataset:iris@d1"})
    assert "iris-clf" in down.text
    assert (await client.get("/ui/lineage", params={"uri": "nonsense"})).status_code == 400
    assert (await client.get("/ui/lineage")).status_code == 200
