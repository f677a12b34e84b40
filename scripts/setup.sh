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
want=$(cat pyproject.toml setup.py scripts/setup.sh | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  # The CPU build of torch first, so that nothing later pulls a multi-GB CUDA build.
  .venv/bin/python -m pip install -q --disable-pip-version-check "${TORCH_SPEC:-torch==2.13.0}"
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[dev,eval,studio]"
  echo "$want" > "$stamp"
fi
.venv/bin/reenact fetch --quiet
# The studio's browser test drives Debian's chromium with Playwright (never `playwright install`,
# which downloads a browser from a CDN). Installed once, as root, where apt-get works; else the
# test is skipped with its reason.
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Debian's chromium for tests/studio/test_browser.py"
    apt_install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      -o DPkg::Lock::Timeout=300 chromium >/dev/null 2>&1; }
    apt_install || { apt-get update -qq >/dev/null 2>&1 && apt_install; } \
      || echo "setup: chromium could not be installed; the studio's browser test will be skipped"
  else
    echo "setup: no chromium, and apt-get needs root; the studio's browser test will be skipped"
  fi
fi
