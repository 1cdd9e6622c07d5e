#!/usr/bin/env bash
# One entry point for a fresh machine:  bash run.sh app   |   bash run.sh test
# Creates .venv (Python 3.11) on first use, installs the pinned requirements, then runs.
set -euo pipefail
cd "$(dirname "$0")"
what="${1:-app}"; shift || true
PY="${PYTHON:-python3.11}"; command -v "$PY" >/dev/null || PY=python3
VENV="${CLOSP_VENV:-.venv}"
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
pip_install() { "$VENV/bin/python" -m pip install -q --disable-pip-version-check "$@"; }
case "$what" in
  app)
    pip_install -r requirements.txt
    pip_install --no-deps -r requirements-nodeps.txt
    exec "$VENV/bin/python" app.py "$@"
    ;;
  test)
    pip_install -r requirements-dev.txt
    pip_install --no-deps -r requirements-nodeps.txt
    # Browser tests drive Debian's Chromium (Playwright's own browser download needs the web).
    if ! command -v chromium >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || echo "chromium install failed"
    fi
    "$VENV/bin/python" -m ruff check .
    exec "$VENV/bin/python" -m pytest "$@"
    ;;
  *) echo "usage: bash run.sh app|test [args]" >&2; exit 2 ;;
esac
