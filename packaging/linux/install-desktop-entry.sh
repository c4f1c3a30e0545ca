#!/usr/bin/env bash
# Install the .desktop entry and icon for the current user, so FineTune Studio shows up
# in the application menu. `finetune-studio` must be on PATH (or pass its full path).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
command_path="${1:-$(command -v finetune-studio || true)}"
if [ -z "$command_path" ]; then
  echo "finetune-studio is not on PATH; pass its full path, e.g. $0 \$PWD/.venv/bin/finetune-studio" >&2
  exit 2
fi
apps="${XDG_DATA_HOME:-$HOME/.local/share}/applications"
icons="${XDG_DATA_HOME:-$HOME/.local/share}/icons/hicolor/scalable/apps"
mkdir -p "$apps" "$icons"
cp "$here/../../resources/icons/app.svg" "$icons/finetune-studio.svg"
sed "s|^Exec=.*|Exec=$command_path|" "$here/finetune-studio.desktop" >"$apps/finetune-studio.desktop"
command -v update-desktop-database >/dev/null && update-desktop-database "$apps" || true
echo "installed $apps/finetune-studio.desktop and $icons/finetune-studio.svg"
