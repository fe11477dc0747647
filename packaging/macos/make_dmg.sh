#!/usr/bin/env bash
# macOS: build mmrl-desktop.app with PyInstaller and wrap it in a compressed .dmg.
# Run on a Mac, from the repository root, inside the project's virtualenv
# (python -m pip install -e ".[packaging]"). Output: packaging/dist/mmrl-desktop-<version>.dmg
#
# Signing/notarisation (optional, needs an Apple Developer ID):
#   CODESIGN_ID="Developer ID Application: Name (TEAMID)" packaging/macos/make_dmg.sh
#   xcrun notarytool submit packaging/dist/mmrl-desktop-*.dmg --keychain-profile NOTARY --wait
#   xcrun stapler staple packaging/dist/mmrl-desktop-*.dmg
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

if [ "$(uname -s)" != "Darwin" ]; then
  echo "make_dmg.sh: run this on macOS (hdiutil and the .app BUNDLE step exist only there)" >&2
  exit 2
fi

version="$(python -c 'import mmrl_desktop; print(mmrl_desktop.__version__)')"
"$root/packaging/build.sh"   # the spec adds a BUNDLE step on macOS: packaging/dist/mmrl-desktop.app

app="$root/packaging/dist/mmrl-desktop.app"
if [ -n "${CODESIGN_ID:-}" ]; then
  codesign --force --deep --options runtime --timestamp --sign "$CODESIGN_ID" "$app"
fi
"$app/Contents/MacOS/mmrl-desktop" self-test   # the .app must pass before it is shipped

stage="$(mktemp -d)"
cp -R "$app" "$stage/"
ln -s /Applications "$stage/Applications"   # drag-to-install
dmg="$root/packaging/dist/mmrl-desktop-$version.dmg"
rm -f "$dmg"
hdiutil create -volname "mmrl-desktop $version" -srcfolder "$stage" -fs HFS+ -format UDZO \
  -imagekey zlib-level=9 -ov "$dmg"
rm -rf "$stage"
echo "dmg: $dmg ($(du -sh "$dmg" | cut -f1))"
