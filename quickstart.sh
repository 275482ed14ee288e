#!/usr/bin/env bash
# The whole loop on a fresh machine, no flags: install, get Fashion-MNIST, train a quick
# DCGAN (1 epoch: a few minutes on a 2-core CPU, seconds on a GPU), export it to ONNX,
# and open the dashboard on http://localhost:8501.
set -euo pipefail
cd "$(dirname "$0")"

python3 -m venv .venv
. .venv/bin/activate
pip install -q -r requirements.txt

# Fashion-MNIST: known folders first, then Debian's package, then the canonical download.
if ! python -m train.data fashion-mnist --offline 2>/dev/null; then
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    echo "Installing Debian's dataset-fashion-mnist package ..."
    ($SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq dataset-fashion-mnist) \
      >/dev/null 2>&1 || echo "(apt could not install dataset-fashion-mnist; trying the download)"
  fi
  python -m train.data fashion-mnist
fi

python -m train.dcgan "$@"
python -m export.to_onnx
exec streamlit run dashboard/app.py --browser.gatherUsageStats false
