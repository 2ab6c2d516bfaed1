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
mapfile -t floors < <("$py" packaging/dependencies.py floors)
echo "floors: ${floors[*]}"
"$py" -m pip install -q "${floors[@]}"
# The project and its test extra; the floors stay as they are (pip would report a conflict).
"$py" -m pip install -q -e '.[test]' "${floors[@]}"
# What was installed. pip freeze spells names as their metadata does (PySide6_Essentials): - and _ alike.
names=$(IFS='|'; echo "${floors[*]%%==*}")
"$py" -m pip freeze | grep -iE "^(${names//-/[-_.]})==" || true
"$py" -m pytest "${@:2}"
echo "the suite passed at the declared floors"
