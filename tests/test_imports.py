"""Imports run one way: no cycle among the portal's modules, and portal code is imported at the top of a module.

The one exception is a task's body, which imports its service when it runs (the task is the public name the
rest of the portal enqueues; its service may import the modules that enqueue it).
"""

import ast
from pathlib import Path

PORTAL = Path(__file__).resolve().parent.parent / "portal"


def module_name(path: Path) -> str:
    parts = path.relative_to(PORTAL.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def portal_modules() -> dict[str, ast.Module]:
    return {
        module_name(path): ast.parse(path.read_text(), str(path))
        for path in sorted(PORTAL.rglob("*.py"))
        if "migrations" not in path.parts
    }


def imported(node: ast.Import | ast.ImportFrom, known: set[str]) -> set[str]:
    """The portal modules an import statement loads (`from portal.a import b` loads portal.a.b when it is one)."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names if alias.name in known}
    if node.module is None or not node.module.startswith("portal"):
        return set()
    found = {node.module} if node.module in known else set()
    return found | {f"{node.module}.{alias.name}" for alias in node.names if f"{node.module}.{alias.name}" in known}


def top_level_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Imports that run when the module loads (at module level, or in a module-level if/try)."""
    found: list[ast.Import | ast.ImportFrom] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
    inner = {
        id(n) for f in ast.walk(tree) if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef) for n in ast.walk(f)
    }
    return [node for node in found if id(node) not in inner]


def import_graph() -> dict[str, set[str]]:
    modules = portal_modules()
    known = set(modules)
    return {
        name: set().union(*(imported(node, known) for node in top_level_imports(tree))) - {name}
        for name, tree in modules.items()
    }


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_among_portal_modules():
    found = cycles(import_graph())
    assert not found, "Import cycles:\n" + "\n".join(" ⇄ ".join(c) for c in found)


def test_portal_code_is_imported_at_the_top_except_in_task_bodies():
    hidden = []
    for path in sorted(PORTAL.rglob("*.py")):
        if "migrations" in path.parts or path.name in ("tasks.py", "apps.py"):
            continue
        tree = ast.parse(path.read_text(), str(path))
        for function in (f for f in ast.walk(tree) if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)):
            for node in ast.walk(function):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("portal"):
                    hidden.append(f"{path.relative_to(PORTAL.parent)}:{node.lineno} in {function.name}()")
                if isinstance(node, ast.Import) and any(a.name.startswith("portal") for a in node.names):
                    hidden.append(f"{path.relative_to(PORTAL.parent)}:{node.lineno} in {function.name}()")
    assert not hidden, "Portal imports hidden inside functions:\n" + "\n".join(hidden)


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
