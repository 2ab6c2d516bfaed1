#!/usr/bin/env bash
# Build the standalone app: the one-folder app in dist/l1-trainer/ and the archive a user
# downloads, dist/l1-trainer-<version>-linux-<arch>[-cuda].tar.zst (.tar.gz without zstd).
# Not part of CI: minutes, and a gigabyte of disk.
#
#   packaging/build.sh [--cuda]
#
# It makes a build environment of its own in build/bundle-env (never the user's environment,
# never the system Python's packages) with a CPU-only PyTorch: the app then unpacks to under
# 1 GB. The registry's default torch is a CUDA build whose NVIDIA libraries alone are 2.9 GB;
# --cuda builds that bundle (with torchvision, so that --download works in it too).
#
# Where the CPU wheel comes from, if not from what pip finds by default:
#   L1_TORCH_CPU        the requirement (default: torch==2.13.0+cpu, the CPU wheel this
#                       project's build machine has)
#   L1_TORCH_INDEX_URL  an index to take it from; elsewhere usually PyTorch's own CPU index,
#                       https://download.pytorch.org/whl/cpu (then e.g. L1_TORCH_CPU=torch==2.9.1)
# The CPU bundle leaves out torchvision (the app needs it only for --download, and the
# registry's torchvision does not load beside a +cpu torch) and every test framework.
set -euo pipefail
cd "$(dirname "$0")/.."
cuda=0
for arg in "$@"; do
  case "$arg" in
    --cuda) cuda=1 ;;
    *) echo "usage: packaging/build.sh [--cuda]" >&2; exit 2 ;;
  esac
done
start=$(date +%s)
env=build/bundle-env$([ "$cuda" = 1 ] && echo -cuda || true)
python3 -m venv --clear "$env"
pip=("$env/bin/python" -m pip install -q)
if [ "$cuda" = 1 ]; then
  "${pip[@]}" torch torchvision
else
  "${pip[@]}" ${L1_TORCH_INDEX_URL:+--index-url "$L1_TORCH_INDEX_URL"} "${L1_TORCH_CPU:-torch==2.13.0+cpu}"
fi
# The app's other dependencies as pyproject.toml declares them (torch is in; torchvision only
# for --cuda), then the app itself, installed for real: PyInstaller follows imports along
# sys.path, not an editable install's finder.
mapfile -t deps < <("$env/bin/python" packaging/dependencies.py bundle $([ "$cuda" = 1 ] && echo cuda || true))
"${pip[@]}" "${deps[@]}" "pyinstaller>=6"
"${pip[@]}" --no-deps .
"$env/bin/python" -m PyInstaller --noconfirm --clean --distpath dist --workpath build/pyinstaller \
  packaging/l1-trainer.spec
built=$(( $(date +%s) - start ))

version=$("$env/bin/python" -c 'from importlib.metadata import version; print(version("l1-trainer"))')
name="l1-trainer-$version-linux-$(uname -m)$([ "$cuda" = 1 ] && echo -cuda || true)"
if command -v zstd >/dev/null; then
  archive="dist/$name.tar.zst"
  tar -C dist -c l1-trainer | zstd -q -T0 -10 -f -o "$archive"
else
  archive="dist/$name.tar.gz"
  tar -C dist -czf "$archive" l1-trainer
fi
echo "built dist/l1-trainer in $built s: $(du -sh dist/l1-trainer | cut -f1) unpacked;" \
  "$archive $(du -h "$archive" | cut -f1), $(( $(date +%s) - start )) s in all"
