"""The size bars of CONTRIBUTING.md: no function over 60 lines, no module over 400 lines.

    python scripts/check_sizes.py [PATH ...]     (default: reenact pipelines cli.py benchmarks tests)

A function's length runs from its ``def`` (decorators included) to its last line, docstring and
nested functions included; a module's is its line count. Prints every offender and exits 1 when
there is one (`make lint` runs it).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

MAX_FUNCTION = 60
MAX_MODULE = 400
DEFAULT_PATHS = ("reenact", "pipelines", "cli.py", "benchmarks", "tests", "scripts")


def python_files(paths: list[str]) -> list[Path]:
    files: list[Path] = []
    for name in paths:
        path = Path(name)
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return files


def offenders(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    found = []
    n_lines = len(text.splitlines())
    if n_lines > MAX_MODULE:
        found.append(f"{path}: module of {n_lines} lines (> {MAX_MODULE})")
    for node in ast.walk(ast.parse(text, filename=str(path))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            start = min([node.lineno] + [d.lineno for d in node.decorator_list])
            length = node.end_lineno - start + 1
            if length > MAX_FUNCTION:
                found.append(f"{path}:{start}: function {node.name} of {length} lines (> {MAX_FUNCTION})")
    return found


def main(argv: list[str]) -> int:
    files = python_files(argv or list(DEFAULT_PATHS))
    found = [line for path in files for line in offenders(path)]
    longest = max((len(p.read_text(encoding="utf-8").splitlines()), str(p)) for p in files)
    print("\n".join(found) if found else f"sizes: {len(files)} files; no function over {MAX_FUNCTION} lines, "
          f"no module over {MAX_MODULE} lines (longest module: {longest[1]}, {longest[0]} lines)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
