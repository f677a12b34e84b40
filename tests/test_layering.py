"""The layering of CONTRIBUTING.md: stages <- pipelines <- applications (commands, the CLI, the studio).

A stage (reenact/<concern>/) never imports a pipeline or an application; a pipeline never imports
an application; a command imports no other command (shared options: reenact.commands.options).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOP = {"reenact/__init__.py", "reenact/__main__.py", "reenact/cli.py"}
#: the application tier: what a user runs, built over the pipelines
APPS = ("reenact.commands", "reenact.cli", "reenact.studio")


def imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)  # a module or a name
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def modules(folder: str) -> dict[str, set[str]]:
    return {str(p.relative_to(ROOT)): imports(p) for p in sorted((ROOT / folder).rglob("*.py"))}


def reaches(found: set[str], prefix: str) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for name in found)


def test_stages_import_no_pipeline_and_no_application():
    stages = {k: v for k, v in modules("reenact").items()
              if k not in TOP and not k.startswith(("reenact/commands/", "reenact/studio/"))}
    assert len(stages) > 50
    upward = [k for k, v in stages.items() if any(reaches(v, top) for top in ("reenact.pipelines", *APPS))]
    assert upward == []


def test_pipelines_import_no_application():
    found = modules("pipelines")
    assert "pipelines/evaluation/harness.py" in found
    assert [k for k, v in found.items() if any(reaches(v, app) for app in APPS)] == []


def test_the_studio_imports_no_command():
    found = modules("reenact/studio")
    assert found
    assert [k for k, v in found.items() if reaches(v, "reenact.commands") or reaches(v, "reenact.cli")] == []


def test_commands_import_no_other_command():
    sideways = {k: sorted(n for n in v if reaches({n}, "reenact.commands") and n != "reenact.commands"
                          and not reaches({n}, "reenact.commands.options"))
                for k, v in modules("reenact/commands").items()}
    assert {k: v for k, v in sideways.items() if v} == {}
