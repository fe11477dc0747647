#!/usr/bin/env bash
# Build the onedir bundle packaging/dist/mmrl-desktop/ with PyInstaller and print its size and
# the build time. Usage (from anywhere, with the project's virtualenv active or PYTHON set):
#
#   packaging/build.sh            # python -m PyInstaller from $PYTHON (default: python3)
#   PYTHON=/path/to/venv/bin/python packaging/build.sh
#
# The build runs under `nice -n 19` (set NICE= to disable). Output: packaging/dist/mmrl-desktop/
# (the executable is packaging/dist/mmrl-desktop/mmrl-desktop[.exe]); work files: packaging/build/.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root"

PYTHON="${PYTHON:-python3}"
NICE="${NICE-nice -n 19}"

if ! "$PYTHON" -c "import PyInstaller" 2>/dev/null; then
  echo "build.sh: PyInstaller is missing: pip install -e '.[packaging]'" >&2
  exit 2
fi

start=$(date +%s)
# shellcheck disable=SC2086
$NICE "$PYTHON" -m PyInstaller --noconfirm --clean --log-level "${PYI_LOG_LEVEL:-WARN}" \
  --distpath "$here/dist" --workpath "$here/build" "$here/mmrl-desktop.spec"
end=$(date +%s)

bundle="$here/dist/mmrl-desktop"
size_mb=$(du -sm "$bundle" | cut -f1)
files=$(find "$bundle" -type f | wc -l)
echo "bundle: $bundle"
echo "bundle-size-mb $size_mb ($files files)"
echo "build-seconds $((end - start))"
