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

# Layer of each top-level module or subpackage, top to bottom; "__init__" is the package itself.
LAYERS = {
    "commands": ("__main__", "cli", "commands", "figures", "bench"),
    "teaching": ("lagrangian", "equations", "train", "exercises"),
    "front API": ("__init__", "api", "check"),
    "gradient methods": ("adjoint", "discrete_adjoint", "finite_differences", "sensitivity", "methods", "fast_vjp",
                         "running_cost", "dopri5"),
    "numerics": ("rk4", "tableau", "adaptive", "tree", "validate", "memory", "metrics", "files", "problem"),
    "problems": ("models", "zoo"),
}
# What each layer may import: its own layer and those below it. The problems (models) use only
# the numerics, and only teaching and commands use them.
MAY_IMPORT = {
    "commands": {"commands", "teaching", "problems", "front API", "gradient methods", "numerics"},
    "teaching": {"teaching", "problems", "front API", "gradient methods", "numerics"},
    "front API": {"front API", "gradient methods", "numerics"},
    "gradient methods": {"gradient methods", "numerics"},
    "numerics": {"numerics"},
    "problems": {"problems", "numerics"},
}


def package_modules():
    """{dotted module name: path} of every .py file in the package ("adjoint_ref" for its __init__)."""
    modules = {}
    for folder, _, files in os.walk(ROOT):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                parts = [PACKAGE] + os.path.relpath(path, ROOT)[:-3].split(os.sep)
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
    """The layer of a dotted package module name, by its top-level module or subpackage."""
    top = (module.split(".") + ["__init__"])[1]
    for layer, members in LAYERS.items():
        if top in members:
            return layer
    raise AssertionError(f"{module} is in no layer: add it to LAYERS in {__file__}")


def import_graph():
    """{module: {imported module: line}} over the package modules, and the imports inside functions."""
    modules = package_modules()
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
    assert "adjoint_ref.rk4" in GRAPH["adjoint_ref.models"]  # from .rk4 import …
    assert "adjoint_ref.check" in GRAPH["adjoint_ref.commands.check"]  # from ..check import …
    assert "adjoint_ref.exercises.ex1_rk4_step" in GRAPH["adjoint_ref.exercises"]  # from . import ex1_rk4_step
    assert "adjoint_ref.rk4" in GRAPH["adjoint_ref.exercises.solutions.ex1_rk4_step"]  # from adjoint_ref import rk4


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_no_import_from_a_higher_layer(module):
    layer = layer_of(module)
    upward = [f"line {line}: {target} ({layer_of(target)})" for target, line in GRAPH[module].items()
              if layer_of(target) not in MAY_IMPORT[layer]]
    assert not upward, f"{module} ({layer}) imports from a layer above it: {upward}"


def test_no_import_circle():
    assert find_cycle(GRAPH) is None, " → ".join(find_cycle(GRAPH))


def test_the_cycle_finder_finds_a_circle():
    graph = {"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}, "d": {"a": 1}}
    assert find_cycle(graph) in (["a", "b", "c", "a"], ["b", "c", "a", "b"], ["c", "a", "b", "c"])
    assert find_cycle({"a": {"b": 1}, "b": {}, "c": {"a": 1, "b": 1}}) is None


def test_package_imports_are_at_module_level():
    # An import inside a function can hide a circle; only optional heavy libraries (matplotlib) go there.
    assert not IN_FUNCTIONS, IN_FUNCTIONS


def test_readme_layout_table_matches_the_imports():
    with open(os.path.join(os.path.dirname(ROOT), "README.md"), encoding="utf-8") as handle:
        section = handle.read().split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| ([^|`]+) \| `([^`]+)` \| [^\n]* \| ([^|]*) \|$", section, re.M)
    table = {name.removesuffix(".py"): (layer, set(re.findall(r"`([^`]+)`", imports))) for layer, name, imports in rows}
    code = {name: (layer_of(f"{PACKAGE}.{name.rstrip('/')}"), imports) for name, imports in unit_edges().items()}
    wrong = {name: (table.get(name), code.get(name)) for name in table.keys() | code.keys()
             if table.get(name) != code.get(name)}
    assert not wrong, f"README layout rows as (layer, imports) in the README and in the code: {wrong}"


def unit(module):
    """The top-level module or subpackage (with a trailing /) a module belongs to, as LAYERS names it."""
    parts = module.split(".")
    if len(parts) == 1:
        return "__init__"
    is_subpackage = len(parts) > 2 or any(m.startswith(module + ".") for m in GRAPH)
    return parts[1] + "/" * is_subpackage


def unit_edges():
    """{top-level module or subpackage: the others it imports}."""
    edges = {}
    for module, targets in GRAPH.items():
        edges.setdefault(unit(module), set()).update(unit(t) for t in targets if unit(t) != unit(module))
    return edges


def print_graph():
    """Each layer's modules and subpackages with what they import from the package, top layer first."""
    edges = unit_edges()
    for layer in LAYERS:
        print(f"{layer}:")
        for name in sorted(u for u in edges if layer_of(f"{PACKAGE}.{u.rstrip('/')}") == layer):
            print(f"  {name:<20} → {', '.join(sorted(edges[name])) or '-'}")
    print(f"import circle among the {len(GRAPH)} modules: {find_cycle(GRAPH) or 'none'}")


if __name__ == "__main__":
    print_graph()
