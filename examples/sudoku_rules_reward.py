#!/usr/bin/env python3
"""A complete remask exec reward plugin: 4x4 sudoku by the rules.

remask starts this program once and keeps it running. For every completion it
writes one JSON line to our stdin:

    {"id": 7, "prompt": "...", "completion": "...", "reference": {...}}

and reads one JSON line back, in order:

    {"id": 7, "score": 0.5, "details": {...}}     or     {"id": 7, "error": "why"}

Rules of the protocol: echo the id, give a finite number as the score, flush
after every answer, and write nothing else on stdout (logs go to stderr, which
remask logs). If we crash, hang past the timeout or answer garbage, that
completion gets the configured failure score and remask restarts us.

This reward needs no solution: it scores how many of the 12 rows, columns and
2x2 boxes of the answer hold 1-4 once each, and zero if the answer changes a
given digit of the puzzle (reference field "puzzle"). Try it without a run:

    remask reward score --exec "python3 examples/sudoku_rules_reward.py" --in completions.jsonl

or in a run config:

    rewards:
      - {exec: [python3, examples/sudoku_rules_reward.py], weight: 0.5, timeout: 2s, failure_score: 0}
"""
import json
import sys

UNITS = (
    [[r * 4 + c for c in range(4)] for r in range(4)]  # rows
    + [[r * 4 + c for r in range(4)] for c in range(4)]  # columns
    + [[(br + r) * 4 + bc + c for r in range(2) for c in range(2)] for br in (0, 2) for bc in (0, 2)]  # boxes
)


def score(completion: str, reference: dict) -> tuple[float, dict]:
    puzzle = reference.get("puzzle")
    if not isinstance(puzzle, str) or len(puzzle) != 16:
        raise ValueError("reference needs a 16-digit puzzle")
    cells = [c for c in completion if c in "0123456789"][:16]
    cells += ["0"] * (16 - len(cells))
    changed = sum(1 for p, c in zip(puzzle, cells) if p != "0" and p != c)
    if changed:
        return 0.0, {"changed_givens": changed}
    good = sum(1 for unit in UNITS if sorted(cells[i] for i in unit) == ["1", "2", "3", "4"])
    return good / len(UNITS), {"good_units": good}


def main() -> None:
    print("sudoku_rules_reward ready", file=sys.stderr)  # shows up in remask's log
    for line in sys.stdin:
        if not line.strip():
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
