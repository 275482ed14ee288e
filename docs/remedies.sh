#!/usr/bin/env bash
# The remedies experiment of docs/experiments.md: the book DCGAN on Fashion-MNIST, plain and with
# each remedy, same seeds and budget, CPU-sized. Re-run with: bash docs/remedies.sh
# then: python -m benchmarks.remedies_report checkpoints/remedies
# The long version of docs/results.md (5 epochs, 2 seeds, bf16 autocast to fit the session):
#   STEPS=9375 SEEDS="1 2" NAMES="ema label-smoothing minibatch-std replay" EXTRA="--precision bf16" \
#     EVAL_EVERY=1875 OUT=checkpoints/remedies-5ep bash docs/remedies.sh
# (the "ema" runs also give the plain recipe: EMA never touches training, so their raw G is the plain run)
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${STEPS:-1200}
SEEDS=${SEEDS:-"1 2 3"}
OUT=${OUT:-checkpoints/remedies}
EVAL_EVERY=${EVAL_EVERY:-200}
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
    run="$OUT/$name-s$seed"
    [ -f "$run/eval.json" ] && continue
    rm -rf "$run"
    python -m train.dcgan --out "$OUT" --name "$name-s$seed" --seed "$seed" --epochs 50 --max-steps "$STEPS" \
      --eval-every "$EVAL_EVERY" --eval-samples 2000 --checkpoint-every 0 ${REMEDY[$name]} ${EXTRA:-}
    python -m evaluation.evaluate "$run" --samples 5000 --no-reference
  done
done
