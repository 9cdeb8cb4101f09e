#!/usr/bin/env bash
# The README's quickstart: set up, build, train the tiny model with SFT on
# generated 4x4 sudoku, evaluate on held-out puzzles in d1's CSV format, sample.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
go build -o remask ./cmd/remask
mkdir -p runs
# Held-out test puzzles from a seed the training data does not use.
./remask data gen --task sudoku4x4 --n 500 --seed 4242 -o runs/sudoku_test.csv
rm -f runs/quickstart.db
./remask train -c configs/quickstart.yaml
./remask eval --ckpt runs/quickstart.db --data runs/sudoku_test.csv --task sudoku4x4
echo "sample for puzzle 0004300021000320:"
./remask sample --ckpt runs/quickstart.db --prompt 0004300021000320
