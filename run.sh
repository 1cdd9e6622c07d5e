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
# The browser code (assets/js, assets/css) is linted as what it is: ESLint and stylelint, pinned
# in tools/lint/package-lock.json (they need Node >= 20.19). Without them, say so and go on.
lint_browser_code() {
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "note: node/npm not found, so assets/js and assets/css are not linted" >&2
  elif ! node -e 'const [a, b] = process.versions.node.split(".").map(Number);
                  process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)'; then
    echo "note: node $(node --version) is older than 20.19, so assets/ is not linted" >&2
  elif ! npm ci --prefix tools/lint --silent --no-audit --no-fund; then
    echo "note: npm ci in tools/lint failed (npm registry unreachable?), so assets/ is not linted" >&2
  else
    npm run --prefix tools/lint --silent lint
  fi
}
install() {
  pip_install -r "$1"
  pip_install --no-deps -r requirements-nodeps.txt
  # MiniLM's one-off ONNX export (~10-20 s, offline, cached per weights sha256), so the app
  # starts fast. Not fatal: the app then exports at its first start, else runs MiniLM on torch.
  "$VENV/bin/python" -m closp_demo.encoders.bert_onnx || true
}
case "$what" in
  app)
    install requirements.txt
    exec "$VENV/bin/python" app.py "$@"
    ;;
  test)
    install requirements-dev.txt
    # Browser tests drive Debian's Chromium (Playwright's own browser download needs the web).
    if ! command -v chromium >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || echo "chromium install failed"
    fi
    lint_browser_code
    "$VENV/bin/python" -m ruff check .
    exec "$VENV/bin/python" -m pytest "$@"
    ;;
  *) echo "usage: bash run.sh app|test [args]" >&2; exit 2 ;;
esac
