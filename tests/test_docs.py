"""The README stays short, the licence and contributing guide exist, and every relative link in the docs resolves."""

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")  # [text](target) and ![alt](target), a title allowed


def relative_links(text: str) -> list[str]:
    """Every link target in a Markdown text that points into the repository (no scheme, no mail, no bare anchor)."""
    text = re.sub(r"```.*?```", "", text, flags=re.S)  # code blocks hold no links
    targets = [t for t in LINK.findall(text) if not re.match(r"[a-z][a-z0-9+.-]*:", t) and not t.startswith("#")]
    return [t.split("#")[0] for t in targets]


def test_the_readme_is_at_most_120_lines():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 120


def test_licence_and_contributing_guide_exist():
    assert (ROOT / "LICENSE").is_file() and "MIT License" in (ROOT / "LICENSE").read_text()
    assert (ROOT / "CONTRIBUTING.md").is_file()


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_resolves(page):
    missing = [t for t in relative_links(page.read_text()) if not (page.parent / t).exists()]
    assert missing == [], f"{page.relative_to(ROOT)} links to files that do not exist"


def test_the_link_reader_finds_what_it_should():
    """The check above can fail: a relative link is read, with its anchor dropped; web links and anchors are not."""
    text = "[a](docs/x.md#part) ![b](img.png) [c](https://e.org/y.md) [d](#top) [e](mailto:a@b.c)\n```\n[f](g.md)\n```"
    assert relative_links(text) == ["docs/x.md", "img.png"]
