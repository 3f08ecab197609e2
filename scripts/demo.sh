#!/usr/bin/env bash
# make demo: start the embedded store, process the sample batch, publish it, fetch it back by case number,
# verify what came back, and print a summary. Exit 0 only if every step and every check passed.
set -euo pipefail
cd "$(dirname "$0")/.."
sample=${1:-samples/case-2024-172}
case_no=${2:-（2024）豫0727刑初172号}
export DOSSIER_HOME=${DOSSIER_HOME:-$PWD/.state}
dossier=.venv/bin/dossier

$dossier store start
$dossier process "$sample" --review never --development-key   # unattended: flags go into the catalogue
rm -rf out && mkdir -p out
$dossier fetch "$case_no" --out out --development-key
# the demo signs with the generated development key (--development-key), so its checks trust that key too
DOSSIER_DEVELOPMENT_KEY=1 exec .venv/bin/python scripts/demo_summary.py "$case_no" out
