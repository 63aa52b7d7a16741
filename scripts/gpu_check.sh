#!/usr/bin/env bash
# The GPU measurements of the meta-learning core, prepared to run as one call on a lent GPU
# machine (PyTorch already installed there; the package runs from the source tree).
#
#   bash scripts/gpu_check.sh bench      timings: 5-way 1-shot meta-batch 32 (batched, compiled,
#                                        loop), 20-way 1-shot, meta-batch 128/512 scaling
#   bash scripts/gpu_check.sh maml5      MAML 5-way 1-shot on Omniglot, 2 minutes of training
#   bash scripts/gpu_check.sh maml20     MAML 20-way 1-shot, 8 minutes of training
#   bash scripts/gpu_check.sh others     first-order MAML, Meta-SGD, Reptile, 5-way 1-shot
#   bash scripts/gpu_check.sh dist       torchrun over all GPUs: meta-training tasks/s, 1 vs N
#
# Each part ends within BUDGET seconds (default 570, under the device tool's 10-minute limit per
# command): a step gets what is left, and a step with under 30 s left is skipped.
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
DEADLINE=$((SECONDS + ${BUDGET:-570}))
C="${COMPILED:-compiled}"

# n <full> <smoke>: the full value, or the smoke-test one
n() { if [ "$SMOKE" = 1 ]; then echo "$2"; else echo "$1"; fi; }

# step NAME SECONDS ARGS...: run `metagan-lab ARGS --json`, append its JSON line tagged with NAME
step() {
  local name=$1 budget=$2 line rc left=$((DEADLINE - SECONDS))
  shift 2
  if [ "$left" -lt 30 ]; then
    echo "{\"step\": \"$name\", \"skipped\": \"${left}s left\"}" | tee -a "$OUT/gpu.jsonl"
    return
  fi
  [ "$budget" -gt "$left" ] && budget=$left
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
  step bench-5w1s-batched 60 bench maml --path batched --warmup 3 --repeat "$r"
  step bench-5w1s-compiled 180 bench maml --path "$C" --warmup 3 --repeat "$((r * 3))"
  step bench-5w1s-loop 60 bench maml --path loop --warmup 1 --repeat 3 --no-check
  step bench-20w1s-compiled 150 bench maml --ways 20 --meta-batch "$(n 16 2)" --inner-steps 5 \
    --inner-lr 0.1 --path "$C" --warmup 3 --repeat "$r"
  for mb in 128 512; do
    step "bench-5w1s-mb$mb-batched" 60 bench maml --meta-batch "$(n $mb 4)" --path batched \
      --warmup 2 --repeat "$(n 10 1)" --no-check
  done
  step bench-20w1s-batched 60 bench maml --ways 20 --meta-batch "$(n 16 2)" --inner-steps 5 \
    --inner-lr 0.1 --path batched --warmup 2 --repeat "$r"
}

train() {  # train NAME ALGORITHM SECONDS ARGS...: meta-train for SECONDS of wall time, then test
  local name=$1 algorithm=$2 seconds=$3
  shift 3
  step "$name" 600 train "$algorithm" --iterations 100000 --max-seconds "$(n "$seconds" 5)" \
    --val-every "$(n 1000 3)" --val-tasks "$(n 100 2)" --test-tasks "$(n 600 4)" \
    --out "$OUT/runs" --overwrite "$@"
}

dist() {  # torchrun over every GPU of the machine: tasks/s of meta-training, 1 process vs all
  local gpus; gpus=$(nvidia-smi -L 2>/dev/null | wc -l); [ "$gpus" -ge 1 ] || gpus=2
  local left=$((DEADLINE - SECONDS))
  echo "== dist: scripts/bench_distributed.py --procs 1 $gpus" | tee -a "$OUT/stderr.log"
  timeout "$left" "$PY" scripts/bench_distributed.py --procs 1 "$gpus" --device "$DEVICE" \
    --iterations "$(n 50 3)" -- --path batched --meta-batch "$(n 32 4)" 2>>"$OUT/stderr.log" \
    | sed 's/^{/{"step": "dist", /' | tee -a "$OUT/gpu.jsonl"
}

case "${1:-bench}" in
  bench) bench ;;
  maml5) train train-maml-5w1s maml 120 --path "$C" ;;
  maml20) train train-maml-20w1s maml 480 --ways 20 --meta-batch 16 --inner-steps 5 \
            --inner-lr 0.1 --eval-inner-steps 5 --path "$C" ;;
  others)
    train train-fomaml-5w1s fomaml 100 --path "$C"
    train train-metasgd-5w1s metasgd 100 --path "$C"
    train train-reptile-5w1s reptile 100 --path batched --inner-optimizer adam --inner-lr 0.001 \
      --train-shots 10 --inner-steps 5 --eval-inner-steps 50 ;;
  dist) dist ;;
  *) echo "usage: $0 bench|maml5|maml20|others|dist" >&2; exit 2 ;;
esac
