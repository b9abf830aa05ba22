"""The package's layers: no module imports from a layer above its own, and no import circle.

Every `import` and `from … import` of every module is read with `ast`, those inside functions
included, and resolved to the package module it loads. `python tests/test_layers.py` prints the
resulting import graph, layer by layer.
"""
import ast
import os
import re

import pytest

PACKAGE = "adjoint_ref"
ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), PACKAGE)

# The layers, top to bottom, and the units in each: a top-level module, a module of _impl/, diagnostics/ or
# problems/, or a whole subpackage (cli/, exercises/). The folder tree shows them: the top level is the
# reading path (the solvers at its foot), _impl/ the plumbing beneath it (two layers: what runs on the
# solvers, and the base that everything may use), and diagnostics/, problems/, cli/ and exercises/ stand above it.
LAYERS = {
    "command line": ("__main__", "cli/"),
    "exercises": ("exercises/",),
    "package": ("__init__",),
    "diagnostics": ("diagnostics/check", "diagnostics/equations", "diagnostics/bench", "diagnostics/compare"),
    "problems": ("problems/problem", "problems/models", "problems/zoo"),
    "reading path": ("api", "methods", "adjoint", "discrete_adjoint", "sensitivity", "finite_differences",
                     "running_cost", "lagrangian", "reversible", "trajectory"),
    "plumbing": ("_impl/memory", "_impl/fast_vjp", "_impl/drift", "_impl/checkpoints"),
    "solvers": ("rk4", "tableau", "adaptive"),
    "base": ("_impl/tree", "_impl/validate", "_impl/metrics", "_impl/files", "_impl/counts"),
}
ORDER = list(LAYERS)  # a unit may import from its own layer and the layers after it in this list


def package_modules(root=ROOT):
    """{dotted module name: path} of every .py file in the package ("adjoint_ref" for its __init__)."""
    modules = {}
    for folder, _, files in os.walk(root):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                parts = [PACKAGE] + os.path.relpath(path, root)[:-3].split(os.sep)
                modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def imported_modules(name, path, modules):
    """(package module imported, line, inside a function?) for every import statement in the file."""
    is_package = path.endswith("__init__.py")
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read(), path)
    inside = {id(node) for scope in ast.walk(tree) if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef))
              for node in ast.walk(scope) if node is not scope}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: climb from this module's package
                package = name.split(".")[:len(name.split(".")) - node.level + is_package]
                base = ".".join(package + ([base] if base else []))
            # `from base import x` loads the module base.x if there is one, else base itself
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        found += [(target, node.lineno, id(node) in inside) for target in targets if target in modules]
    return found


def layer_of(module):
    """The layer of a dotted package module name, by the unit it belongs to."""
    name = unit(module)
    if name.endswith("/__init__"):  # a subpackage's own __init__: a docstring, no imports
        return ORDER[-1]
    for layer, members in LAYERS.items():
        if name in members or name + "/" in members:
            return layer
    raise AssertionError(f"{module} is in no layer: add it to LAYERS in {__file__}")


def import_graph(root=ROOT):
    """{module: {imported module: line}} over the package modules, and the imports inside functions."""
    modules = package_modules(root)
    graph, in_functions = {}, []
    for name, path in sorted(modules.items()):
        graph[name] = {}
        for target, line, in_function in imported_modules(name, path, modules):
            graph[name].setdefault(target, line)
            if in_function:
                in_functions.append(f"{name}:{line} imports {target}")
    return graph, in_functions


def find_cycle(graph):
    """One import circle as a list of modules [a, b, …, a], or None if the graph has none."""
    state, stack = {}, []  # state: 1 while on the DFS stack, 2 once finished

    def visit(module):
        state[module], stack[len(stack):] = 1, [module]
        for target in graph[module]:
            if state.get(target) == 1:
                return stack[stack.index(target):] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        state[module] = 2
        stack.pop()
        return None

    for module in graph:
        if module not in state and (cycle := visit(module)):
            return cycle
    return None


GRAPH, IN_FUNCTIONS = import_graph()


def test_every_module_has_a_layer():
    for module in GRAPH:
        layer_of(module)


def test_the_parser_sees_known_imports():
    # The parser must find what is there, or the tests below pass on an empty graph.
    assert "adjoint_ref.rk4" in GRAPH["adjoint_ref.problems.models"]  # from ..rk4 import …
    assert "adjoint_ref.diagnostics.check" in GRAPH["adjoint_ref.cli.commands.check"]  # from ...diagnostics.check
    assert "adjoint_ref.exercises.ex1_rk4_step" in GRAPH["adjoint_ref.exercises"]  # from . import ex1_rk4_step
    assert "adjoint_ref.rk4" in GRAPH["adjoint_ref.exercises.solutions.ex7_discrete_adjoint"]  # from adjoint_ref import rk4
    assert "adjoint_ref._impl.tree" in GRAPH["adjoint_ref.adjoint"]  # from ._impl import tree


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_no_import_from_a_higher_layer(module):
    layer = layer_of(module)
    upward = [f"line {line}: {target} ({layer_of(target)})" for target, line in GRAPH[module].items()
              if ORDER.index(layer_of(target)) < ORDER.index(layer)]
    assert not upward, f"{module} ({layer}) imports from a layer above it: {upward}"


def test_no_import_circle():
    assert find_cycle(GRAPH) is None, " → ".join(find_cycle(GRAPH))


def test_a_real_circle_between_two_files_is_found(tmp_path):
    # Two modules of a throwaway package that import each other, one relatively, one absolutely.
    (tmp_path / "__init__.py").write_text("")
    (tmp_path / "a.py").write_text("from .b import g\n\ndef f():\n    return g\n")
    (tmp_path / "b.py").write_text("import adjoint_ref.a\n\ndef g():\n    return 1\n")
    graph, _ = import_graph(str(tmp_path))
    assert find_cycle(graph) in (["adjoint_ref.a", "adjoint_ref.b", "adjoint_ref.a"],
                                 ["adjoint_ref.b", "adjoint_ref.a", "adjoint_ref.b"])
    (tmp_path / "b.py").write_text("def g():\n    return 1\n")
    assert find_cycle(import_graph(str(tmp_path))[0]) is None


def test_package_imports_are_at_module_level():
    # An import inside a function can hide a circle; only optional heavy libraries (matplotlib) go there.
    assert not IN_FUNCTIONS, IN_FUNCTIONS


def test_readme_layout_table_matches_the_imports():
    with open(os.path.join(os.path.dirname(ROOT), "README.md"), encoding="utf-8") as handle:
        section = handle.read().split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| ([^|`]+) \| `([^`]+)` \| [^\n]* \| ([^|]*) \|$", section, re.M)
    table = {name.removesuffix(".py"): (layer, set(re.findall(r"`([^`]+)`", imports))) for layer, name, imports in rows}
    code = {name: (LAYER_OF_UNIT[name], imports) for name, imports in unit_edges().items()
            if not name.endswith("/__init__")}  # a subpackage's own __init__ imports nothing
    wrong = {name: (table.get(name), code.get(name)) for name in table.keys() | code.keys()
             if table.get(name) != code.get(name)}
    assert not wrong, f"README layout rows as (layer, imports) in the README and in the code: {wrong}"


def unit(module):
    """The unit a module belongs to, as LAYERS names it: "__init__" for the package, a top-level module's
    name, "folder/name" for a module of _impl/, diagnostics/ or problems/ ("folder/__init__" for the folder
    itself), or "cli/" and "exercises/" for everything in those subpackages."""
    parts = module.split(".")[1:]
    if not parts:
        return "__init__"
    if parts[0] in ("cli", "exercises"):
        return parts[0] + "/"
    if len(parts) == 1 and any(m.startswith(module + ".") for m in GRAPH):
        return parts[0] + "/__init__"
    return "/".join(parts[:2])


def unit_edges():
    """{top-level module or subpackage: the others it imports}."""
    edges = {}
    for module, targets in GRAPH.items():
        edges.setdefault(unit(module), set()).update(unit(t) for t in targets if unit(t) != unit(module))
    return edges


LAYER_OF_UNIT = {unit(m): layer_of(m) for m in GRAPH}


def print_graph():
    """Each layer's modules and subpackages with what they import from the package, top layer first."""
    edges = unit_edges()
    for layer in LAYERS:
        print(f"{layer}:")
        for name in sorted(u for u in edges if LAYER_OF_UNIT[u] == layer and not u.endswith("/__init__")):
            print(f"  {name:<20} → {', '.join(sorted(edges[name])) or '-'}")
    print(f"import circle among the {len(GRAPH)} modules: {find_cycle(GRAPH) or 'none'}")


if __name__ == "__main__":
    print_graph()
