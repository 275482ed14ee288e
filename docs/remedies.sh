#!/usr/bin/env bash
# The remedies experiment of docs/experiments.md: the book DCGAN on Fashion-MNIST, plain and with
# each remedy, same seeds and budget, CPU-sized. Re-run with: bash docs/remedies.sh
# then: python -m benchmarks.remedies_report checkpoints/remedies
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${STEPS:-1200}
SEEDS=${SEEDS:-"1 2 3"}
declare -A REMEDY=(
  [plain]=""
  [label-smoothing]="--label-smoothing 0.1"
  [replay]="--replay 1024"
  [minibatch-std]="--minibatch-std"
  [ema]="--ema 0.999"
  [ema-0.99]="--ema 0.99"
)
for seed in $SEEDS; do
  for name in ${NAMES:-plain label-smoothing replay minibatch-std ema ema-0.99}; do
    run="checkpoints/remedies/$name-s$seed"
    [ -f "$run/eval.json" ] && continue
    rm -rf "$run"
    python -m train.dcgan --out checkpoints/remedies --name "$name-s$seed" --seed "$seed" --max-steps "$STEPS" \
      --eval-every 200 --eval-samples 2000 --checkpoint-every 0 ${REMEDY[$name]}
    python -m train.evaluate "$run" --samples 5000 --no-reference
  done
done
