#!/usr/bin/env bash
# The suite at the declared dependency floors: each `>=` of pyproject.toml's dependencies
# installed at exactly that version into a fresh virtual environment, with the test extra, and
# the whole suite run there. Run it before a release: it downloads a CUDA build of the floor's
# torch (several GB, a few minutes), too much for CI's time budget.
#
#   packaging/floors.sh [FOLDER]    (the environment goes into FOLDER, by default a temporary one)
set -euo pipefail
cd "$(dirname "$0")/.."
folder="${1:-$(mktemp -d)}"
python3 -m venv "$folder/venv"
py="$folder/venv/bin/python"
# "torch>=2.10" -> "torch==2.10" (pip reads 2.10 as 2.10.0), for this Python's markers only.
mapfile -t floors < <("$py" - <<'EOF'
import re, sys, tomllib
from pip._vendor.packaging.requirements import Requirement
for text in tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]:
    req = Requirement(text)
    if req.marker is None or req.marker.evaluate():
        low = [s.version for s in req.specifier if s.operator == ">="]
        if len(low) != 1:
            sys.exit(f"{text}: no single '>=' floor to test")
        print(f"{req.name}=={low[0]}")
EOF
)
echo "floors: ${floors[*]}"
"$py" -m pip install -q "${floors[@]}"
# The project and its test extra; the floors stay as they are (pip would report a conflict).
"$py" -m pip install -q -e '.[test]' "${floors[@]}"
# What was installed. pip freeze spells names as their metadata does (PySide6_Essentials): - and _ alike.
names=$(IFS='|'; echo "${floors[*]%%==*}")
"$py" -m pip freeze | grep -iE "^(${names//-/[-_.]})==" || true
"$py" -m pytest "${@:2}"
echo "the suite passed at the declared floors"
