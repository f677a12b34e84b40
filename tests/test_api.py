"""The public API (reenact/__init__.py, docs/api.md): every exported name, imported on first use."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import reenact

ROOT = Path(__file__).resolve().parents[1]


def test_all_is_the_exports():
    assert sorted(reenact.__all__) == sorted(reenact._EXPORTS)
    assert len(set(reenact.__all__)) == len(reenact.__all__)


@pytest.mark.parametrize("name", reenact.__all__)
def test_every_export_resolves_to_its_module(name):
    value = getattr(reenact, name)
    module = reenact._EXPORTS[name]
    assert getattr(sys.modules[module], name) is value
    assert name in dir(reenact)


def test_unknown_names_raise_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        reenact.nope  # noqa: B018


def test_import_reenact_loads_no_torch():
    """`import reenact` (and so `reenact --help`) stays fast: the exports load on first use."""
    code = "import sys, reenact; print('torch' in sys.modules, 'mediapipe' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.split() == ["False", "False"]


def test_docs_api_shows_every_export():
    text = (ROOT / "docs" / "api.md").read_text()
    assert [name for name in reenact.__all__ if not re.search(rf"`{name}[`(]", text)] == []


def test_pipelines_come_from_the_top_level_folder():
    """reenact.pipelines is the repo's pipelines/ (pyproject's package-dir), one and the same module."""
    import reenact.pipelines

    assert Path(reenact.pipelines.__file__).resolve().parent == ROOT / "pipelines"
    assert reenact.ReenactPipeline is reenact.pipelines.ReenactPipeline


def test_cli_script_is_a_thin_entry(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "cli.py"), "--help"], capture_output=True, text=True,
                         cwd=tmp_path, check=True)
    assert out.stdout.startswith("usage: reenact")


def test_a_wheel_lists_every_package():
    """pyproject's explicit package list names every folder with an __init__.py (a missing one is
    absent from `pip install .`, while an editable install still finds it)."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "reenact").rglob("__init__.py")}
    found |= {".".join(("reenact", *p.parent.relative_to(ROOT).parts))
              for p in (ROOT / "pipelines").rglob("__init__.py")}
    assert found == listed
