"""``modelyard artifacts``: upload, list and download a run's files from a terminal.

Transfers go through the Python client (streamed, sha256-verified downloads); a byte-counting
progress bar goes to stderr when it is a terminal, so stdout keeps only the result.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from modelyard.cli._common import client_for, echo_json, option, url_option
from modelyard.cli._output import json_option, show
from modelyard.progress import ByteProgress, NoProgress, Progress

LIST_COLUMNS = [
    ("path", "PATH"),
    ("is_dir", "DIR"),
    ("size", "SIZE"),
    ("sha256", "SHA256"),
]

_quiet = option("--quiet", "-q", is_flag=True, help="No progress bar.")


def _progress(quiet: bool) -> Progress:
    return NoProgress() if quiet or not sys.stderr.isatty() else ByteProgress()


def _size(total: int) -> str:
    if total < 1024:
        return f"{total} bytes"
    value = total / 1024
    for unit in ("KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def _files(count: int) -> str:
    return "1 file" if count == 1 else f"{count} files"


@click.group()
def artifacts() -> None:
    """Files of a run: upload, list, download (streamed, sha256-verified)."""


@artifacts.command("upload")
@click.argument("run_id")
@click.argument("local_path", type=click.Path(exists=True, path_type=Path))
@option(
    "--path",
    "dest",
    default=None,
    metavar="DEST",
    help="Artifact directory to upload into: a file becomes DEST/<name>, a directory's "
    "contents go below DEST (default: the run's root).",
)
@_quiet
@url_option
@json_option
@click.pass_context
def artifacts_upload(
    ctx: click.Context,
    run_id: str,
    local_path: Path,
    dest: str | None,
    quiet: bool,
    url: str,
    as_json: bool,
) -> None:
    """Upload the file or directory LOCAL_PATH to run RUN_ID."""
    client = client_for(ctx, url)
    progress = _progress(quiet or as_json)
    if local_path.is_dir():
        stored = client.upload_artifacts(run_id, local_path, dest, progress=progress)
    else:
        stored = [client.upload_artifact(run_id, local_path, dest, progress=progress)]
    if as_json:
        echo_json(stored)
        return
    total = sum(int(f["size"]) for f in stored)
    where = f"{dest.rstrip('/')}/" if dest else "the artifact root"
    click.echo(f"uploaded {_files(len(stored))} ({_size(total)}) to run {run_id} under {where}")


@artifacts.command("list")
@click.argument("run_id")
@click.argument("path", required=False, default=None)
@option("--recursive", "-r", is_flag=True, help="Every file below PATH, not only its children.")
@url_option
@json_option
@click.pass_context
def artifacts_list(
    ctx: click.Context, run_id: str, path: str | None, recursive: bool, url: str, as_json: bool
) -> None:
    """List the directory PATH (default: the root) of run RUN_ID's artifacts."""
    entries = client_for(ctx, url).list_artifacts(run_id, path, recursive=recursive)
    rows: list[dict[str, Any]] = entries if as_json else [_row(e) for e in entries]
    show(rows, LIST_COLUMNS, as_json=as_json)


def _row(entry: dict[str, Any]) -> dict[str, Any]:
    shown = dict(entry)
    shown["path"] = f"{entry['path']}/" if entry["is_dir"] else entry["path"]
    shown["is_dir"] = "dir" if entry["is_dir"] else ""
    return shown


@artifacts.command("download")
@click.argument("run_id")
@click.argument("path")
@option(
    "-o",
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    help="Directory to download into (created if missing): a file arrives as DIR/<name>, a "
    "directory as DIR/<name>/...",
)
@_quiet
@url_option
@json_option
@click.pass_context
def artifacts_download(
    ctx: click.Context,
    run_id: str,
    path: str,
    output: Path,
    quiet: bool,
    url: str,
    as_json: bool,
) -> None:
    """Download the file or directory PATH of run RUN_ID ("/" for everything); each file is
    checked against its sha256 and kept only if it matches."""
    progress = _progress(quiet or as_json)
    written = client_for(ctx, url).download_artifacts(run_id, path, output, progress=progress)
    if as_json:
        echo_json([str(p) for p in written])
        return
    total = sum(p.stat().st_size for p in written)
    click.echo(f"downloaded {_files(len(written))} ({_size(total)}) to {output}")
