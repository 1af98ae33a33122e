#!/usr/bin/env bash
# Build the isolated venv that runs GraphRicciCurvature, the Ollivier-Ricci anchor of
# benchmarks/perf_metrics.py and the generator of tests/fixtures/orc. The package pins
# scipy <= 1.13.1 (and pulls networkit), so it never goes into the project's own venv.
# Idempotent: does nothing when the venv already imports GraphRicciCurvature.
# Usage: bash benchmarks/anchors/make_grc_venv.sh [VENV_DIR]   (default ~/.cache/tgnn/grc-venv)
set -euo pipefail
VENV="${1:-${TGNN_GRC_VENV:-$HOME/.cache/tgnn/grc-venv}}"
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import GraphRicciCurvature" 2>/dev/null; then
    echo "$VENV"
    exit 0
fi
mkdir -p "$(dirname "$VENV")"
python3 -m venv "$VENV"
"$VENV/bin/pip" install -q "GraphRicciCurvature==0.6.1" >&2
"$VENV/bin/python" -c "import GraphRicciCurvature" >&2
echo "$VENV"
