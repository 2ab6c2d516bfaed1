#!/usr/bin/env bash
# Smoke-test the archive a user downloads, unpacked into a fresh folder with a fresh home: the
# window starts (offscreen) and stays up; one epoch trains through the same executable; the menu
# entry written from the unpacked folder starts that executable; in a bundle without
# torchvision, --download says so in one line. Exits 0 only if all of it works.
#
#   packaging/smoke.sh [ARCHIVE]    (default: the newest dist/l1-trainer-*.tar.*)
set -euo pipefail
cd "$(dirname "$0")/.."
archive="${1:-$(ls -t dist/l1-trainer-*.tar.* | head -1)}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
case "$archive" in
  *.zst) zstd -dcq "$archive" | tar -x -C "$tmp" ;;
  *) tar -xzf "$archive" -C "$tmp" ;;
esac
app="$tmp/l1-trainer/l1-trainer"
export HOME="$tmp/home" XDG_CONFIG_HOME="$tmp/config" XDG_DATA_HOME="$tmp/data" XDG_CACHE_HOME="$tmp/cache"
mkdir -p "$HOME"

QT_QPA_PLATFORM=offscreen "$app" &
pid=$!
sleep 8
kill -0 "$pid" || { echo "the window did not stay up"; exit 1; }
kill "$pid"; wait "$pid" 2>/dev/null || true

"$app" train --epochs 1 --train-subset 2000 --lr 1e-3 --device cpu

"$app" --install-desktop-entry
entry="$XDG_DATA_HOME/applications/l1-trainer.desktop"
grep -qx "Exec=$app" "$entry" || { echo "the menu entry does not start $app:"; cat "$entry"; exit 1; }
if command -v desktop-file-validate >/dev/null; then desktop-file-validate "$entry"; fi

if [ ! -d "$tmp/l1-trainer/_internal/torchvision" ]; then
  if "$app" train --data-dir "$tmp/mnist" --download 2>"$tmp/err"; then exit 1; fi
  [ "$(wc -l <"$tmp/err")" = 1 ] && grep -q "has no torchvision" "$tmp/err" \
    || { echo "--download without torchvision:"; cat "$tmp/err"; exit 1; }
fi
echo "smoke test passed: $archive"
