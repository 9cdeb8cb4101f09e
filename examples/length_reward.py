#!/usr/bin/env python3
"""A complete remask exec reward plugin.

remask starts this program once and keeps it running. For every completion it
writes one JSON line to our stdin:

    {"id": 7, "prompt": "...", "completion": "...", "reference": {...}}

and reads one JSON line back, in order:

    {"id": 7, "score": 0.5, "details": {...}}     or     {"id": 7, "error": "why"}

This example rewards sudoku answers for using each digit 1-4 exactly four
times (a shape check that needs no solution), and reports the counts as details.
Try it without a training run:

    remask reward score --exec "python3 examples/length_reward.py" --in completions.jsonl
"""
import json
import sys


def score(completion: str, reference: dict) -> tuple[float, dict]:
    digits = [c for c in completion if c.isdigit()][:16]
    counts = {d: digits.count(d) for d in "1234"}
    balanced = sum(1 for d in "1234" if counts[d] == 4)
    return balanced / 4.0, {"counts": counts}


def main() -> None:
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        req = json.loads(line)
        try:
            s, details = score(req["completion"], req.get("reference") or {})
            out = {"id": req["id"], "score": s, "details": details}
        except Exception as e:  # report, don't die: remask keeps us running
            out = {"id": req["id"], "error": str(e)}
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()  # one answer per request, right away


if __name__ == "__main__":
    main()
