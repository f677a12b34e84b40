"""What the bad-input matrix's modules share: their assets, built once per module."""

from __future__ import annotations

import pytest

from tests.bad_inputs_assets import Assets


@pytest.fixture(scope="module")
def assets(tmp_path_factory, media) -> Assets:
    return Assets(tmp_path_factory.mktemp("assets"), media)
