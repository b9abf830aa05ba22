"""Every relative link of the pages resolves: README.md, docs/, derivation/ (the page and the notebook)
and the exercise statements, which exist once, as package data (adjoint_ref/exercises/exercises.md).

A link to a file must name one that exists; a link to a heading (`page.md#anchor`, or `#anchor` on the
same page) must name a heading of that page, by GitHub's rule for anchors.
"""
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STATEMENTS = ROOT / "adjoint_ref" / "exercises" / "exercises.md"
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "derivation" / "README.md", STATEMENTS,
         ROOT / "derivation" / "derivation.ipynb"]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
CODE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def markdown(page):
    """The Markdown of a page; of a notebook, its Markdown cells. Code blocks are left out."""
    if page.suffix == ".ipynb":
        cells = json.loads(page.read_text(encoding="utf-8"))["cells"]
        text = "\n".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "markdown")
    else:
        text = page.read_text(encoding="utf-8")
    return CODE.sub("", text)


def anchors(page):
    """GitHub's anchors for the headings of a Markdown page: lower case, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#+ (.*)$", markdown(page), re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in headings}


def relative_links(page):
    return [target for target in LINK.findall(markdown(page)) if not re.match(r"[a-z]+:", target)]


@pytest.mark.parametrize("page, target", [(page.relative_to(ROOT).as_posix(), target)
                                          for page in PAGES for target in relative_links(page)])
def test_every_relative_link_resolves(page, target):
    path, _, anchor = target.partition("#")
    linked = (ROOT / page).parent / path if path else ROOT / page
    assert linked.exists(), f"{page} links to {path}, which does not exist"
    if anchor and linked.suffix == ".md":
        assert anchor in anchors(linked), f"{page} links to #{anchor}, not a heading of {linked.relative_to(ROOT)}"


def test_the_statements_exist_once_and_the_pages_link_to_them():
    copies = [path.relative_to(ROOT).as_posix() for path in ROOT.rglob("exercises.md")
              if not any(part in (".git", "build", "dist") or part.endswith(".egg-info") for part in path.parts)]
    assert copies == ["adjoint_ref/exercises/exercises.md"]
    for page in (ROOT / "README.md", ROOT / "derivation" / "README.md"):
        assert any((page.parent / target).resolve() == STATEMENTS for target in relative_links(page)), page
