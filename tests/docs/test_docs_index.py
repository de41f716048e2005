"""docs/index.md links every page in docs/, and every relative link in docs/ points somewhere."""

from __future__ import annotations

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
# Pages written on other branches; they are linked before they land. Remove a name once its
# page exists in docs/.
EXPECTED_ELSEWHERE: set[str] = set()


def _links(page: Path) -> set[str]:
    return {
        target
        for target in LINK.findall(page.read_text(encoding="utf-8"))
        if "://" not in target and not target.startswith("mailto:")
    }


def test_index_links_every_page() -> None:
    linked = _links(DOCS / "index.md")
    pages = {p.name for p in DOCS.glob("*.md")} - {"index.md"}
    assert pages <= linked, f"add to docs/index.md: {sorted(pages - linked)}"


def test_relative_links_resolve() -> None:
    broken = []
    for page in sorted(DOCS.glob("*.md")):
        for target in _links(page):
            if (page.parent / target).exists():
                continue
            if Path(target).name in EXPECTED_ELSEWHERE and page.parent / target == DOCS / target:
                continue
            broken.append(f"{page.name}: {target}")
    assert not broken, f"broken links: {broken}"


ANCHORED = re.compile(r"\]\(([^)\s]*)#([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.DOTALL | re.MULTILINE)


def _slugs(page: Path) -> set[str]:
    """GitHub's heading anchors: lowercase, punctuation dropped, spaces to hyphens."""
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    headings = re.findall(r"^#{1,6} (.+)$", text, flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_anchors_name_real_headings() -> None:
    broken = []
    for page in sorted(DOCS.glob("*.md")):
        for target, anchor in ANCHORED.findall(page.read_text(encoding="utf-8")):
            linked = page if not target else page.parent / target
            if linked.exists() and anchor not in _slugs(linked):
                broken.append(f"{page.name}: {target}#{anchor}")
    assert not broken, f"anchors without a heading: {broken}"
