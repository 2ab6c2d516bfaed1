#!/usr/bin/env bash
# Build the one-folder app into dist/l1-trainer/ (not part of CI: minutes and gigabytes).
# PyInstaller follows imports along sys.path, not an editable install's finder, so the package
# is first installed for real into build/pyinstaller/pkg (the environment is left as it is).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q "pyinstaller>=6"
rm -rf build/pyinstaller/pkg
python -m pip install -q --no-deps --target build/pyinstaller/pkg .
start=$(date +%s)
python -m PyInstaller --noconfirm --clean --distpath dist --workpath build/pyinstaller packaging/l1-trainer.spec
echo "built dist/l1-trainer in $(( $(date +%s) - start )) s, $(du -sh dist/l1-trainer | cut -f1)"
