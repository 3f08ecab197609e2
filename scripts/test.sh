#!/usr/bin/env bash
# make test: check the code's shape (ruff; import-linter's contracts: layers, no cycles, private modules; the import
# rules it cannot see: private names, redundant function-level imports; module and function sizes), then start a
# test object store in its own state folder, run the whole suite against it, stop it.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check pipeline flows tests bench scripts samples
.venv/bin/lint-imports --no-cache
.venv/bin/python scripts/import_rules.py
.venv/bin/python scripts/code_shape.py --check --top 5
export DOSSIER_HOME=${DOSSIER_TEST_HOME:-$PWD/.state-test}
export DOSSIER_TEST_STORE_STATE=$DOSSIER_HOME
export DO_NOT_TRACK=1 PREFECT_SERVER_ANALYTICS_ENABLED=false OMP_THREAD_LIMIT=1
port=${DOSSIER_TEST_STORE_PORT:-28333}
.venv/bin/dossier store start --state "$DOSSIER_HOME" --port "$port"
trap '.venv/bin/dossier store stop --state "$DOSSIER_HOME" >/dev/null || true' EXIT
.venv/bin/python -m pytest "$@"
