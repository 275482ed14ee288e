#!/usr/bin/env bash
# The whole loop on a fresh machine, no flags needed: install, get Fashion-MNIST, train the book
# DCGAN for a 3-minute quick look (as many epochs as this machine does in 3 minutes, at most 5),
# export it to ONNX, and open the dashboard on http://localhost:8501.
#
#   ./quickstart.sh                       the 3-minute quick look
#   ./quickstart.sh --minutes 1           a shorter one
#   ./quickstart.sh --epochs 50           the book's full run
#   ./quickstart.sh --data-dir DIR        Fashion-MNIST's four .gz files are in DIR
#   ./quickstart.sh --model mlp           any flag of python -m train.dcgan is passed on
set -euo pipefail
cd "$(dirname "$0")"

python3 -m venv .venv
. .venv/bin/activate
echo "Installing the Python packages (requirements.txt) ..."
pip install -q -r requirements.txt

# The data step sees the same flags as training, so --data-dir and --model/--dataset mean the same there.
wants_fashion_mnist() {
  case " $* " in
    *" --data-dir "*|*" --model frog "*|*" --dataset cifar10 "*|*" --dataset folder "*) return 1 ;;
  esac
  return 0
}
if ! python -m gan.data --offline "$@"; then
  echo "(not on this machine yet; looking further)"
  if wants_fashion_mnist "$@" && command -v apt-get >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    echo "Installing Debian's dataset-fashion-mnist package with apt-get ..."
    apt_log=$(mktemp)
    if ! ($SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq dataset-fashion-mnist) \
        >"$apt_log" 2>&1; then
      echo "apt-get could not install it: $(grep -v '^\s*$' "$apt_log" | tail -n 1)"
    fi
    rm -f "$apt_log"
  fi
  python -m gan.data "$@"  # finds what apt installed, or downloads (MD5-checked), or says how to get the data
fi

python -m train.dcgan "$@"
python -m export.to_onnx
exec streamlit run dashboard/app.py --browser.gatherUsageStats false
