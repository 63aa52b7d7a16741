#!/usr/bin/env bash
# The GPU measurements of the meta-learning core, prepared to run as one call on a lent GPU
# machine (PyTorch already installed there; the package runs from the source tree).
#
#   bash scripts/gpu_check.sh bench      timings: 5-way 1-shot meta-batch 32 (batched, compiled,
#                                        loop), 20-way 1-shot, meta-batch 128/512 scaling (~5 min)
#   bash scripts/gpu_check.sh maml5      MAML 5-way 1-shot on Omniglot, compiled path (~4 min)
#   bash scripts/gpu_check.sh maml20     MAML 20-way 1-shot (~10 min)
#   bash scripts/gpu_check.sh others     first-order MAML, Meta-SGD, Reptile, 5-way 1-shot (~9 min)
#
# Results: one JSON line per step in $OUT/gpu.jsonl (OUT defaults to runs/gpu), stderr of every
# step in $OUT/stderr.log. Omniglot is read from $METAGAN_LAB_DATA (default: data/, so copy the
# two official zips to data/omniglot/ and carry that folder). SMOKE=1 shrinks every step to a
# few iterations, to try the script on a CPU (with DEVICE=cpu, and COMPILED=batched to skip
# inductor's minutes of CPU compilation).
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export METAGAN_LAB_DATA="${METAGAN_LAB_DATA:-$PWD/data}"
OUT="${OUT:-runs/gpu}"
mkdir -p "$OUT"
PY="${PYTHON:-python3}"
DEVICE="${DEVICE:-cuda}"
SMOKE="${SMOKE:-0}"
C="${COMPILED:-compiled}"

# n <full> <smoke>: the full value, or the smoke-test one
n() { if [ "$SMOKE" = 1 ]; then echo "$2"; else echo "$1"; fi; }

# step NAME SECONDS ARGS...: run `metagan-lab ARGS --json`, append its JSON line tagged with NAME
step() {
  local name=$1 budget=$2 line rc
  shift 2
  echo "== $name: metagan-lab $* (limit ${budget}s)" | tee -a "$OUT/stderr.log"
  line=$(timeout "$budget" "$PY" -m metagan_lab "$@" --device "$DEVICE" --json --quiet \
         2>>"$OUT/stderr.log" | tail -n 1)
  rc=$?
  if [ "$rc" = 0 ] && [ "${line:0:1}" = "{" ]; then
    echo "{\"step\": \"$name\", ${line:1}" | tee -a "$OUT/gpu.jsonl"
  else
    echo "{\"step\": \"$name\", \"failed\": true, \"exit\": $rc}" | tee -a "$OUT/gpu.jsonl"
  fi
}

bench() {
  local r; r=$(n 30 1)
  step bench-5w1s-batched 150 bench maml --path batched --warmup 3 --repeat "$r"
  step bench-5w1s-compiled 300 bench maml --path "$C" --warmup 3 --repeat "$((r * 3))"
  step bench-5w1s-loop 120 bench maml --path loop --warmup 1 --repeat 3 --no-check
  step bench-5w1s-fomaml-compiled 240 bench maml --algorithm fomaml --path "$C" --warmup 3 \
    --repeat "$r"
  step bench-20w1s-compiled 300 bench maml --ways 20 --meta-batch "$(n 16 2)" --inner-steps 5 \
    --inner-lr 0.1 --path "$C" --warmup 3 --repeat "$r"
  step bench-20w1s-batched 150 bench maml --ways 20 --meta-batch "$(n 16 2)" --inner-steps 5 \
    --inner-lr 0.1 --path batched --warmup 2 --repeat "$r"
  for mb in 128 512; do
    step "bench-5w1s-mb$mb-batched" 200 bench maml --meta-batch "$(n $mb 4)" --path batched \
      --warmup 2 --repeat "$(n 10 1)" --no-check
  done
}

train() {  # train NAME ALGORITHM ITERATIONS ARGS...
  local name=$1 algorithm=$2 iterations=$3
  shift 3
  step "$name" "$(n 900 300)" train "$algorithm" --iterations "$(n "$iterations" 3)" \
    --val-every "$(n 1000 3)" --val-tasks "$(n 100 2)" --test-tasks "$(n 600 4)" \
    --out "$OUT/runs" "$@"
}

case "${1:-bench}" in
  bench) bench ;;
  maml5) train train-maml-5w1s maml 12000 --path "$C" ;;
  maml20) train train-maml-20w1s maml 15000 --ways 20 --meta-batch 16 --inner-steps 5 \
            --inner-lr 0.1 --eval-inner-steps 5 --path "$C" ;;
  others)
    train train-fomaml-5w1s fomaml 12000 --path "$C"
    train train-metasgd-5w1s metasgd 12000 --path "$C" --inner-lr 0.4
    train train-reptile-5w1s reptile 20000 --path batched ;;
  *) echo "usage: $0 bench|maml5|maml20|others" >&2; exit 2 ;;
esac
