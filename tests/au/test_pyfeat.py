"""Optional AU backends: absent packages and weights are reported clearly, never half-run."""

from __future__ import annotations

import sys
import types

import pytest

from reenact.au import pyfeat as pyfeat_backend
from reenact.au.extract import ExtractConfig, extract_aus
from reenact.cli import main
from reenact.errors import WeightsError

pytestmark = pytest.mark.skipif(pyfeat_backend.available(), reason="py-feat is installed here")


def test_pyfeat_absent_says_how_to_install():
    assert not pyfeat_backend.available()
    with pytest.raises(WeightsError, match=r"pip install 'reenact\[pyfeat\]'") as err:
        pyfeat_backend.PyFeatBackend()
    assert "\n" not in str(err.value)


def test_pyfeat_without_weights_says_how_to_provide_them(monkeypatch):
    """Plumbing: a stand-in `feat` whose detector fails like huggingface_hub does offline."""

    class OfflineDetector:
        def __init__(self, **kwargs):
            raise OSError("LocalEntryNotFoundError: cannot find the requested files in the local cache")

    monkeypatch.setitem(sys.modules, "feat", types.SimpleNamespace(Detectorv1=OfflineDetector))
    monkeypatch.setattr(pyfeat_backend, "available", lambda: True)
    with pytest.raises(WeightsError, match="Hugging Face") as err:
        pyfeat_backend.PyFeatBackend()
    assert "HF_HOME" in str(err.value)


def test_api_and_cli_report_the_missing_backend(tmp_path, media, capsys):
    with pytest.raises(WeightsError):
        extract_aus(media("single_face.jpg"), ExtractConfig(backend="pyfeat"))
    out = tmp_path / "aus.csv"
    code = main(["aus", str(media("single_face.jpg")), "-o", str(out), "--backend", "pyfeat", "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1 and "py-feat" in err[0]
    assert not out.exists()
