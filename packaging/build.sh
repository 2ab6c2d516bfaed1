#!/usr/bin/env bash
# Build the one-folder app into dist/l1-trainer/ (not part of CI: minutes and gigabytes).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q "pyinstaller>=6"
start=$(date +%s)
python -m PyInstaller --noconfirm --clean --distpath dist --workpath build/pyinstaller packaging/l1-trainer.spec
echo "built dist/l1-trainer in $(( $(date +%s) - start )) s, $(du -sh dist/l1-trainer | cut -f1)"
