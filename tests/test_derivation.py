"""derivation/README.md keeps its cross-references honest.

Every equation the page tags links to a function that exists and to a test that exists; every
public function of lagrangian.py is referenced, each "Eq. (k)" function from the section of
equation (k); every relative link and in-page anchor resolves.
"""
import ast
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "derivation" / "README.md"
LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
TAG = re.compile(r"\\tag\{([^}]+)\}")
HEADING = re.compile(r"^#+ ", re.MULTILINE)
EQUATION_DOCSTRING = re.compile(r"^Eqs?\. \((\d+)\)")


def links(text):
    """(text without backticks, target) for every Markdown link in `text`."""
    return [(label.strip("`"), target) for label, target in LINK.findall(text)]


def sections():
    """The page cut at its headings: each section's text starts with its heading line."""
    text = PAGE.read_text(encoding="utf-8")
    starts = [m.start() for m in HEADING.finditer(text)] + [len(text)]
    return [text[a:b] for a, b in zip(starts[:-1], starts[1:])]


def function_exists(label, target):
    """A link to ../adjoint_ref/[<folder>/]<module>.py whose text is <module>.<function> (or <function>)."""
    module_name = Path(target).stem
    dotted = ".".join(Path(target).with_suffix("").parts[Path(target).parts.index("adjoint_ref"):])
    prefix, _, name = label.rpartition(".")
    module = importlib.import_module(dotted.removesuffix(".__init__"))
    return prefix in ("", module_name) and callable(getattr(module, name, None))


def names_a_test(label, target):
    """A link to ../tests/<file>.py whose text is <file>.py::<test function>."""
    file_name, _, name = label.partition("::")
    path = ROOT / "tests" / Path(target).name
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return file_name == path.name and name in {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}


def code_links(text):
    return [(label, target) for label, target in links(text)
            if target.startswith("../adjoint_ref/") and target.endswith(".py")]


def links_to_tests(text):
    return [(label, target) for label, target in links(text) if target.startswith("../tests/")]


def test_the_posts_twelve_equations_are_all_tagged():
    tags = {tag for section in sections() for tag in TAG.findall(section)}
    assert {str(k) for k in range(1, 13)} <= tags


def test_every_tagged_equation_names_an_existing_function_and_test():
    tagged = [section for section in sections() if TAG.search(section)]
    assert len(tagged) >= 13
    for section in tagged:
        heading = section.splitlines()[0]
        assert code_links(section), f"{heading}: no link to the implementing function"
        assert links_to_tests(section), f"{heading}: no link to a test"
        for label, target in code_links(section):
            assert function_exists(label, target), f"{heading}: {label} ({target}) does not exist"
        for label, target in links_to_tests(section):
            assert names_a_test(label, target), f"{heading}: {label} ({target}) does not exist"


def lagrangian_functions():
    """{name: docstring} of the public functions defined in adjoint_ref/lagrangian.py."""
    tree = ast.parse((ROOT / "adjoint_ref" / "lagrangian.py").read_text(encoding="utf-8"))
    return {node.name: ast.get_docstring(node) or "" for node in tree.body
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_")}


def test_every_lagrangian_function_is_referenced_from_its_equation():
    by_tag = {tag: section for section in sections() for tag in TAG.findall(section)}
    page = PAGE.read_text(encoding="utf-8")
    functions = lagrangian_functions()
    assert len(functions) >= 20
    for name, docstring in functions.items():
        assert f"[`lagrangian.{name}`](../adjoint_ref/lagrangian.py)" in page, f"{name} is not referenced"
        number = EQUATION_DOCSTRING.match(docstring)
        if number:
            assert (f"lagrangian.{name}", "../adjoint_ref/lagrangian.py") in links(by_tag[number.group(1)]), \
                f"{name} implements eq. ({number.group(1)}) but that equation's section does not link it"


def slug(heading):
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.lstrip("#").strip().lower()).replace(" ", "-")


@pytest.mark.parametrize("label, target", links(PAGE.read_text(encoding="utf-8")))
def test_every_link_resolves(label, target):
    if target.startswith("#"):
        assert target[1:] in {slug(section.splitlines()[0]) for section in sections()}
        return
    assert (PAGE.parent / target).exists(), target
    if target.startswith("../adjoint_ref/") and target.endswith(".py"):
        assert function_exists(label, target)
    elif target.startswith("../tests/"):
        assert names_a_test(label, target)
