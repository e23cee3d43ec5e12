"""Checks what tools/figures.sh produced: every experiment folder of experiments/ (with a run.sh)
has OUT_ROOT/<name>/provenance.json naming backend, device, commit and date, and every output it
lists exists and is well-formed: CSV with a header and at least one row of as many cells, JSON that
parses, PNG with the PNG signature and under 1 MB; a folder marked INCOMPLETE (an interrupted run)
fails. Exits non-zero naming each problem."""
import argparse
import csv
import json
import os
import sys

REQUIRED = ["experiment", "paper_item", "backend", "simulated", "device", "commit", "date", "quick", "commands", "outputs"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def check_file(path):
    if os.path.getsize(path) == 0:
        return "is empty"
    if path.endswith(".csv"):
        with open(path) as f:
            rows = list(csv.reader(line for line in f if not line.startswith("#")))
        if len(rows) < 2:
            return "has no data rows"
        bad = [i for i, r in enumerate(rows[1:], 2) if len(r) != len(rows[0])]
        if bad:
            return f"row {bad[0]} has a different number of cells than the header"
    elif path.endswith(".json"):
        try:
            with open(path) as f:
                json.load(f)
        except ValueError as e:
            return f"is not JSON: {e}"
    elif path.endswith(".png"):
        with open(path, "rb") as f:
            if f.read(8) != PNG_MAGIC:
                return "is not a PNG"
        if os.path.getsize(path) > 1_000_000:
            return "is over 1 MB (too large to view on GitHub)"
    return None


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("out_root")
    p.add_argument("--only", default="", help="comma-separated experiment names")
    a = p.parse_args()
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "experiments")
    names = sorted(n for n in os.listdir(root) if os.path.isfile(os.path.join(root, n, "run.sh")))
    if a.only:
        names = [n for n in names if n in a.only.split(",")]
    problems = []
    for name in names:
        d = os.path.join(a.out_root, name)
        if os.path.isfile(os.path.join(d, "INCOMPLETE")):  # tools/figures.sh marks an interrupted experiment
            with open(os.path.join(d, "INCOMPLETE")) as f:
                problems.append(f"{name}: marked INCOMPLETE ({f.read().strip()})")
            continue
        prov_path = os.path.join(d, "provenance.json")
        if not os.path.isfile(prov_path):
            problems.append(f"{name}: no provenance.json in {d}")
            continue
        with open(prov_path) as f:
            prov = json.load(f)
        problems += [f"{name}: provenance.json lacks '{k}'" for k in REQUIRED if k not in prov]
        outputs = prov.get("outputs", [])
        if not any(o.endswith(".png") for o in outputs):
            problems.append(f"{name}: no PNG among its outputs")
        for o in outputs:
            path = os.path.join(d, o)
            if not os.path.isfile(path):
                problems.append(f"{name}: output {o} is missing")
            elif (why := check_file(path)):
                problems.append(f"{name}: {o} {why}")
    for msg in problems:
        print("check_figures:", msg, file=sys.stderr)
    print(f"check_figures: {len(names)} experiments, {len(problems)} problems")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
