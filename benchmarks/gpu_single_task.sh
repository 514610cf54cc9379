#!/usr/bin/env bash
# The MoE on one CUDA GPU beside gradient boosting of the same split: the `default` preset on every
# C-MAPSS subset and the `tiny` preset on FD001, run side by side (each is small for the GPU).
# Usage: benchmarks/gpu_single_task.sh DATASETS_DIR OUT_DIR [EPOCHS] [EXTRA bench_single_task OPTIONS...]
# Results: OUT_DIR/<run>.json (bench_single_task.py's JSON) and OUT_DIR/<run>.log.
set -u
datasets=$1; out=$2; epochs=${3:-20}; shift $(( $# < 3 ? $# : 3 ))
mkdir -p "$out"
run() {
  local name=$1; shift
  python3 benchmarks/bench_single_task.py "$@" --datasets "$datasets" --device cuda --threads 2 \
    --json "$out/$name.json" >"$out/$name.log" 2>&1
  echo "$name: exit $?"
}
for subset in fd001 fd002 fd003 fd004; do
  run "default-$subset" "cmapss-$subset" --preset default --epochs "$epochs" --batch-size 128 --lr 1e-3 "$@" &
done
run tiny-fd001 cmapss-fd001 --preset tiny --epochs "$epochs" --batch-size 128 --lr 1e-3 "$@" &
wait
