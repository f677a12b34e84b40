#!/usr/bin/env bash
# Idempotent set-up for a fresh machine: a venv in .venv, the project and its pinned dependencies,
# and every registered model/media file fetched and verified into the cache.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.reenact-setup
want=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  # The CPU build of torch first, so that nothing later pulls a multi-GB CUDA build.
  .venv/bin/python -m pip install -q --disable-pip-version-check "${TORCH_SPEC:-torch==2.13.0}"
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[dev,eval]"
  echo "$want" > "$stamp"
fi
.venv/bin/reenact fetch --quiet
