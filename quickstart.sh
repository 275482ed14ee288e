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
#   ./quickstart.sh --no-apt              never run apt-get (look for the data, or download it, only)
set -euo pipefail
cd "$(dirname "$0")"

use_apt=1
args=()
for arg in "$@"; do
  if [ "$arg" = "--no-apt" ]; then use_apt=0; else args+=("$arg"); fi
done
set -- "${args[@]+"${args[@]}"}"

# The environment's Python by its path: the commands this script prints then work as printed, in a shell
# where the environment is not activated.
PY=.venv/bin/python
[ -x "$PY" ] || python3 -m venv .venv
echo "Installing the Python packages (requirements.txt) into .venv ..."
"$PY" -m pip install -q -r requirements.txt
if command -v npm >/dev/null 2>&1; then
  echo "Installing ONNX Runtime Web (inference/web/package.json) for the shareable web page ..."
  npm ci --prefix inference/web --ignore-scripts --no-audit --no-fund --silent || echo "(npm could not install it; python -m inference.web will say how)"
else
  echo "(no npm here: everything works but python -m inference.web, which needs Node.js's npm once)"
fi

# The data step sees the same flags as training, so --data-dir and --model/--dataset mean the same there.
wants_fashion_mnist() {
  case " $* " in
    *" --data-dir "*|*" --model frog "*|*" --dataset cifar10 "*|*" --dataset folder "*) return 1 ;;
  esac
  return 0
}
if ! "$PY" -m gan.data --offline "$@" >/dev/null 2>&1; then
  echo "The training images are not on this machine yet."
  if [ "$use_apt" = 1 ] && wants_fashion_mnist "$@" && command -v apt-get >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    echo "Installing Debian's package dataset-fashion-mnist with ${SUDO:+sudo }apt-get (the four original"
    echo "Fashion-MNIST files; --no-apt skips this and downloads them instead) ..."
    apt_log=$(mktemp)
    if ! ($SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq dataset-fashion-mnist) \
        >"$apt_log" 2>&1; then
      echo "apt-get could not install it: $(grep -v '^\s*$' "$apt_log" | tail -n 1)"
    fi
    rm -f "$apt_log"
  fi
  "$PY" -m gan.data "$@"  # finds what apt installed, or downloads (MD5-checked), or says how to get the data
fi

"$PY" -m train.dcgan "$@"
"$PY" -m export.to_onnx
echo "Opening the dashboard on http://localhost:8501: your run, and the generators shipped in pretrained/."
exec .venv/bin/streamlit run dashboard/app.py --browser.gatherUsageStats false
