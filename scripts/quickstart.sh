#!/usr/bin/env bash
# The README's quickstart: set up, build, train the tiny model with SFT on
# generated 4x4 sudoku, then post-train it with RL (UniGRPO, reward: solved),
# and report accuracy on held-out puzzles in d1's CSV format before and after RL.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
go build -o remask ./cmd/remask
mkdir -p runs
# Held-out test puzzles from a seed the training data does not use.
./remask data gen --task sudoku4x4 --n 500 --seed 4242 -o runs/sudoku_test.csv

accuracy() { # RUN.db -> accuracy on the held-out puzzles, as a percentage
  ./remask eval --ckpt "$1" --data runs/sudoku_test.csv --task sudoku4x4 |
    sed -n 's/.*"accuracy":\([0-9.eE+-]*\).*"n":\([0-9]*\).*/\1 \2/p' |
    awk '{printf "%.1f%% of %d", 100 * $1, $2}'
}

echo "== 1/2: SFT (configs/quickstart.yaml)"
rm -f runs/quickstart.db
./remask train -c configs/quickstart.yaml
before=$(accuracy runs/quickstart.db)
echo "SFT accuracy on held-out puzzles: $before"

echo "== 2/2: RL (configs/quickstart-rl.yaml)"
rm -f runs/quickstart-rl.db
./remask train -c configs/quickstart-rl.yaml
after=$(accuracy runs/quickstart-rl.db)

# One greedy sample, checked with the sudoku_solved reward (1 for any valid
# grid that keeps the givens, as eval counts it).
puzzle=0004300021000320
completion=$(./remask sample --ckpt runs/quickstart-rl.db --prompt "$puzzle" --json 2>/dev/null |
  sed -n 's/.*"completion":"\(\([^"\\]\|\\.\)*\)".*/\1/p')
printf '{"id": 1, "prompt": "%s", "completion": "%s", "reference": {"puzzle": "%s"}}\n' \
  "$puzzle" "$completion" "$puzzle" >runs/quickstart-sample.jsonl
scored=$(./remask reward score --reward sudoku_solved --in runs/quickstart-sample.jsonl 2>/dev/null || true)
case $scored in
  *'"total":1}'* | *'"total":1,'*) verdict="a valid solution" ;;
  *) verdict="not a valid solution: the model is still wrong on this one" ;;
esac
echo "sample for puzzle $puzzle (runs/quickstart-rl.db, greedy):"
echo "  $puzzle=$completion  ($verdict)"
echo
echo "held-out accuracy (runs/sudoku_test.csv, greedy decoding):"
echo "  after SFT (runs/quickstart.db):    $before"
echo "  after RL  (runs/quickstart-rl.db): $after"
