#!/usr/bin/env bash
# Runs RL estimators from one SFT checkpoint at one rollout budget and writes
# one run store per estimator, for `remask ckpt compare` and `remask ckpt plot`.
#
#   scripts/compare.sh TASK START.db OUTDIR STEPS EVAL_EVERY EST [EST...]
#
# TASK is sudoku or countdown; EST a recipe suffix (unigrpo, coupled-grpo,
# diffu-grpo, wd1, tracerl, espo, spg): configs/TASK-EST.yaml keeps its
# estimator's settings (mu, beta, clip, masks, aggregation, its algo.NAME
# section) and gets the budget every estimator shares: the reward, group 8,
# 32 prompts a batch at temperature 1, dynamic sampling to 16 groups with
# signal (at most 4 refills), lr 1e-4 after 5 warmup steps, STEPS steps, the
# held-out file evaluated every EVAL_EVERY steps, one thread (run two of these
# side by side on two cores), trained on the SFT recipe's data so every run
# drops the same problems from the eval. Environment: REMASK (the binary,
# default ./remask); SET, further overrides for every run, e.g.
# SET="algo.mu=2" (one or more key=value separated by spaces).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 6 ] || { sed -n 2,17p "$0" | sed 's/^# \{0,1\}//'; exit 2; }
task=$1 start=$2 out=$3 steps=$4 every=$5
shift 5
bin=${REMASK:-./remask}
case $task in
  sudoku) reward=sudoku_solved eval=examples/sudoku_test.csv train=gen:20000 ;;
  countdown) reward=countdown eval=examples/countdown_heldout.jsonl train=gen:200000 ;;
  *) echo "compare.sh: task $task: want sudoku or countdown" >&2; exit 2 ;;
esac
[ -f "${start%:*}" ] || { echo "compare.sh: $start: no such run store" >&2; exit 2; }
mkdir -p "$out"
for est in "$@"; do
  src=configs/$task-$est.yaml
  [ -f "$src" ] || { echo "compare.sh: $src: no such recipe" >&2; exit 2; }
  cfg=$out/$est.yaml
  # Lists cannot be set with --set: swap the reward line in a copy.
  sed -E "s/^  - \{name: [a-z0-9_]+, weight: [0-9.]+\}/  - {name: $reward, weight: 1.0}/" "$src" >"$cfg"
  extra=()
  for kv in ${SET:-}; do extra+=(--set "$kv"); done
  echo "$(date -u +%FT%TZ) start $est ${SET:-}" >>"$out/compare.log"
  "$bin" train -c "$cfg" --no-progress \
    --set run.dir="$out" --set run.name="$est" --set model.init_from="$start" \
    --set data.train="$train" --set data.eval="$eval" --set data.eval_n=0 \
    --set rollout.group=8 --set rollout.prompts=32 --set rollout.temperature=1.0 \
    --set algo.drop_zero_signal=true --set algo.min_signal_groups=16 --set algo.max_refills=4 \
    --set optim.lr=1e-4 --set optim.schedule=constant_with_warmup --set optim.warmup=5 \
    --set train.steps="$steps" --set train.eval_every="$every" --set train.ckpt_every="$every" \
    --set train.log_every=1 --set train.threads=1 "${extra[@]}" >"$out/$est.log" 2>&1 ||
    echo "$(date -u +%FT%TZ) FAILED $est (see $out/$est.log)" >>"$out/compare.log"
  echo "$(date -u +%FT%TZ) end $est" >>"$out/compare.log"
done
