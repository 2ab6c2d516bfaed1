#!/usr/bin/env bash
# Smoke-test the built app: the window starts offscreen and stays up, then one epoch trains
# on a subset through the same executable. Exits 0 only if both work.
set -euo pipefail
cd "$(dirname "$0")/.."
app=dist/l1-trainer/l1-trainer
QT_QPA_PLATFORM=offscreen XDG_CONFIG_HOME="$(mktemp -d)" "$app" &
pid=$!
sleep 8
kill -0 "$pid" || { echo "the window did not stay up"; exit 1; }
kill "$pid"; wait "$pid" 2>/dev/null || true
"$app" train --epochs 1 --train-subset 2000 --lr 1e-3 --device cpu
echo "smoke test passed"
