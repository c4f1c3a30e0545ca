#!/usr/bin/env bash
# Re-render the README's screenshots (resources/screenshots/*.png) as a new user first sees
# them after `bash packaging/dev.sh run`: the demo project in an empty FineTune Studio home,
# so nothing saved on this machine (the Estimate page's GPU and model, another project)
# gets into the pictures. Needs the set-up .venv. The converted bundled model is the one
# thing kept: it is rebuilt, not chosen (converted here first if this machine lacks it).
set -euo pipefail
cd "$(dirname "$0")/.."

PAGES=${*:-estimate decide dataset training evaluation chat}
FINETUNE_STUDIO_MODEL_CACHE=$(.venv/bin/python -c \
  'from core.models.bundled import bundled_model_dir; print(bundled_model_dir().parent)')
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
export FINETUNE_STUDIO_HOME=$home FINETUNE_STUDIO_MODEL_CACHE QT_QPA_PLATFORM=offscreen

.venv/bin/finetune-studio models prepare >/dev/null
for page in $PAGES; do
  .venv/bin/finetune-studio screenshot --demo --page "$page" --size 1280x800 \
    --out "resources/screenshots/$page.png"
done
