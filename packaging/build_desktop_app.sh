#!/usr/bin/env bash
# Build the one-folder desktop app with PyInstaller, then smoke-check it:
# --version, doctor and an offscreen screenshot must work from dist/ alone.
# Takes minutes (the training stack is large), so it is not part of the default tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash packaging/dev.sh setup
# shellcheck disable=SC1091
. .venv/bin/activate
python -m pip install -q "pyinstaller>=6.10"
export QT_QPA_PLATFORM=offscreen
start=$(date +%s)
pyinstaller --noconfirm --distpath dist --workpath build/pyinstaller packaging/finetune-studio.spec
built=$(date +%s)
app=dist/FineTuneStudio/FineTuneStudio
home=$(mktemp -d)
export FINETUNE_STUDIO_HOME="$home" QT_QPA_PLATFORM=offscreen
"$app" --version
"$app" doctor >/dev/null
"$app" screenshot --page project --out "$home/smoke.png"
test -s "$home/smoke.png"
echo "smoke check passed; build took $((built - start)) s; size $(du -sh dist/FineTuneStudio | cut -f1)"
