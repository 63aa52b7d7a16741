"""Size and shape of the library: module lines, functions with many parameters, import cycles.

    python scripts/code_metrics.py [PACKAGE_DIR] [--min-params 9]

Prints one JSON object: the largest modules, every function taking ``--min-params`` or more
parameters (self/cls not counted), and the cycles of the import graph inside the package
(module-level imports; with ``--lazy`` also those inside functions).
"""

from __future__ import annotations

import argparse
import ast
import json
from pathlib import Path


def module_name(root: Path, path: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def resolve(current: str, is_package: bool, node: ast.ImportFrom) -> list[str]:
    base = current.split(".") if is_package else current.split(".")[:-1]
    if node.level:
        base = base[:len(base) - (node.level - 1)]
        prefix = ".".join(base + ([node.module] if node.module else []))
    else:
        prefix = node.module or ""
    return [prefix] + [f"{prefix}.{a.name}" for a in node.names]


def analyse(root: Path, min_params: int, lazy: bool = False) -> dict:
    modules = {module_name(root, p): p for p in sorted(root.rglob("*.py"))}
    lines, many, graph = {}, [], {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text())
        lines[name] = len(path.read_text().splitlines())
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                a = node.args
                params = [p.arg for p in a.posonlyargs + a.args + a.kwonlyargs
                          if p.arg not in ("self", "cls")]
                if len(params) >= min_params:
                    many.append(f"{name}.{node.name}({len(params)})")
        deps = set()
        typing_only = {id(n) for block in ast.walk(tree) if _is_type_checking(block)
                       for n in ast.walk(block)}
        for node in (ast.walk(tree) if lazy else tree.body):   # lazy: imports in functions too
            if id(node) in typing_only:
                continue
            targets = []
            if isinstance(node, ast.ImportFrom):
                targets = resolve(name, path.name == "__init__.py", node)
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            deps |= {t for t in targets if t in modules and t != name}
        graph[name] = sorted(deps)
    return {"modules": len(modules), "lines": sum(lines.values()),
            "largest": sorted(lines.items(), key=lambda kv: -kv[1])[:8],
            "functions_with_many_params": sorted(many), "count_many_params": len(many),
            "import_cycles": cycles(graph)}


def _is_type_checking(node: ast.AST) -> bool:
    """``if TYPE_CHECKING:`` blocks hold imports for type hints only; they never run."""
    return (isinstance(node, ast.If) and isinstance(node.test, ast.Name)
            and node.test.id == "TYPE_CHECKING")


def cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, []):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("package", nargs="?", default="metagan_lab", type=Path)
    parser.add_argument("--min-params", type=int, default=9)
    parser.add_argument("--lazy", action="store_true",
                        help="count imports inside functions too (a cycle through them still "
                             "ties the modules together)")
    args = parser.parse_args()
    print(json.dumps(analyse(args.package.resolve(), args.min_params, args.lazy), indent=1))


if __name__ == "__main__":
    main()
