#!/usr/bin/env python3
"""Writes the caesar task (task text, JSONL {"prompt", "answer"}) for the block
diffusion recipe configs/caesar-block-sft.yaml: a key digit k and 60 random
lowercase letters; the answer is every letter shifted k places (mod 26). The
answer is 60 characters, so a 64-token completion holds it and its <eos>.

    python3 scripts/caesar_data.py OUTDIR   # OUTDIR/caesar_train.jsonl (20000), OUTDIR/caesar_eval.jsonl (300)
"""
import json
import os
import random
import sys

LETTERS = "abcdefghijklmnopqrstuvwxyz"


def example(rng):
    k = rng.randrange(10)
    text = "".join(rng.choice(LETTERS) for _ in range(60))
    shifted = "".join(LETTERS[(LETTERS.index(c) + k) % 26] for c in text)
    return {"prompt": f"{k}:{text}", "answer": shifted}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "runs"
    os.makedirs(out, exist_ok=True)
    for name, n, seed in (("caesar_train.jsonl", 20000, 1), ("caesar_eval.jsonl", 300, 2)):
        rng = random.Random(seed)
        with open(os.path.join(out, name), "w") as f:
            for _ in range(n):
                f.write(json.dumps(example(rng)) + "\n")
        print(f"{os.path.join(out, name)}: {n} examples")


if __name__ == "__main__":
    main()
