#!/usr/bin/env python3
"""How far the simulator's serving numbers are from the GPU's. The figures serve on a simulated GPU;
they stand for a real one only as far as a simulated run matches a measured one on the same seeded
arrivals, so gpu-check serves the demo both ways (the simulator calibrated with the kernel times
measured there) and this puts the two side by side: per policy, the relative error
(simulated - measured) / measured of throughput, goodput, SLO attainment, p50 and p99, and the median
|error|. It reads only the comparison.json files `dstack run` wrote.

Usage: serving_fidelity.py MEASURED_DIR SIMULATED_DIR -o OUT.csv [--json OUT.json]"""
import argparse
import csv
import json
import math
import os
import statistics
import sys

METRICS = ["throughput_rps", "goodput_rps", "slo_attainment", "p50_ms", "p99_ms"]
# The same short names as dstack run's table, so the two read alike.
SHORT = {"throughput_rps": "thr_req/s", "goodput_rps": "good_req/s", "slo_attainment": "SLO_att",
         "p50_ms": "p50_ms", "p99_ms": "p99_ms"}


class Refusal(Exception):
    pass


def load_run(folder, want_simulated):
    path = os.path.join(folder, "comparison.json")
    try:
        with open(path) as f:
            doc = json.load(f)
    except FileNotFoundError:
        raise Refusal(f"{path}: no such file (give the -o folder of a `dstack run`)")
    except OSError as e:
        raise Refusal(f"{path}: cannot read: {e.strerror}")
    except ValueError as e:
        raise Refusal(f"{path}: malformed JSON: {e}")
    if not isinstance(doc, dict) or not isinstance(doc.get("provenance"), dict) \
            or not isinstance(doc.get("policies"), list):
        raise Refusal(f"{path}: not a dstack run comparison (no provenance object or policies list)")
    prov = doc["provenance"]
    simulated = prov.get("simulated")
    if not isinstance(simulated, bool):
        raise Refusal(f"{path}: provenance.simulated is missing or not true/false")
    if simulated != want_simulated:
        if want_simulated:
            raise Refusal(f"{path} is not a simulated run (provenance.simulated is false, backend "
                          f"{prov.get('backend', '?')}); the second folder must come from dstack run --backend sim")
        raise Refusal(f"{path} is not a measured run (provenance.simulated is true, backend "
                      f"{prov.get('backend', '?')}); the first folder must come from dstack run --backend gpu")
    policies = {}
    for i, p in enumerate(doc["policies"]):
        name = p.get("provenance", {}).get("policy") if isinstance(p, dict) else None
        if not isinstance(name, str) or not isinstance(p.get("all"), dict):
            raise Refusal(f"{path}: policies[{i}] has no provenance.policy name or no 'all' metrics")
        if name in policies:
            raise Refusal(f"{path}: policy '{name}' appears twice")
        values = {}
        for m in METRICS:
            v = p["all"].get(m)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)):
                raise Refusal(f"{path}: policy '{name}': {m} is {v!r}, not a number or null")
            values[m] = None if v is None else float(v)
        policies[name] = {"values": values, "window": p.get("window")}
    return {"path": path, "provenance": prov, "policies": policies, "order": list(policies)}


def rel_error(measured, simulated):
    if measured is None or simulated is None or measured == 0:
        return None
    return (simulated - measured) / measured


def num(v):
    return "" if v is None else format(v, ".10g")


def pct(e):
    return "-" if e is None else f"{e * 100:+.1f}%"


def span(window):
    if isinstance(window, dict) and "start_s" in window and "end_s" in window:
        return f"[{window['start_s']}, {window['end_s']}) s"
    return "unknown"


def warnings(meas, sim):
    # Errors mean something only over the same arrivals and window: say so when they differ, but
    # still compare (a deliberate comparison across seeds is a question too).
    out = []
    for key in ("experiment", "seed"):
        a, b = meas["provenance"].get(key), sim["provenance"].get(key)
        if a != b:
            out.append(f"the runs differ in {key}: measured {a}, simulated {b}; their arrivals differ")
    a, b = meas["provenance"].get("device"), sim["provenance"].get("device")
    if a != b:
        out.append(f"the GPU run's policies planned with device {a}, the simulator served on {b}")
    for name in meas["order"]:
        a, b = meas["policies"][name]["window"], sim["policies"][name]["window"]
        if a != b:
            out.append(f"policy '{name}': measured over window {span(a)}, simulated over {span(b)}")
    return out


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("measured", metavar="MEASURED_DIR", help="dstack run --backend gpu output folder")
    ap.add_argument("simulated", metavar="SIMULATED_DIR", help="dstack run --backend sim output folder")
    ap.add_argument("-o", "--out", required=True, metavar="OUT.csv")
    ap.add_argument("--json", metavar="OUT.json")
    a = ap.parse_args(argv)

    try:
        meas = load_run(a.measured, want_simulated=False)
        sim = load_run(a.simulated, want_simulated=True)
        for name in meas["order"]:
            if name not in sim["policies"]:
                raise Refusal(f"policy '{name}' is in {meas['path']} but not in {sim['path']}")
        for name in sim["order"]:
            if name not in meas["policies"]:
                raise Refusal(f"policy '{name}' is in {sim['path']} but not in {meas['path']}")
    except Refusal as e:
        print(f"serving_fidelity: {e}", file=sys.stderr)
        return 2

    rows = []
    for name in meas["order"]:
        row = {"policy": name}
        for m in METRICS:
            mv, sv = meas["policies"][name]["values"][m], sim["policies"][name]["values"][m]
            row[f"measured_{m}"], row[f"simulated_{m}"], row[f"error_{m}"] = mv, sv, rel_error(mv, sv)
        rows.append(row)
    columns = ["policy"] + [f"{k}_{m}" for m in METRICS for k in ("measured", "simulated", "error")]
    try:
        with open(a.out, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(columns)
            for r in rows:
                w.writerow([r["policy"]] + [num(r[c]) for c in columns[1:]])
    except OSError as e:
        print(f"serving_fidelity: {a.out}: cannot write: {e.strerror}", file=sys.stderr)
        return 2

    medians = {}
    for m in METRICS:
        errs = [abs(r[f"error_{m}"]) for r in rows if r[f"error_{m}"] is not None]
        medians[m] = {"median_abs_error": statistics.median(errs) if errs else None, "pairs": len(errs)}
    all_errs = [abs(r[f"error_{m}"]) for r in rows for m in METRICS if r[f"error_{m}"] is not None]
    overall = statistics.median(all_errs) if all_errs else None
    cost_model = sim["provenance"].get("cost_model", "?")
    gpu = meas["provenance"].get("measured_on", meas["provenance"].get("device", "?"))

    for line in warnings(meas, sim):
        print(f"serving_fidelity: warning: {line}", file=sys.stderr)
    width = max([len("policy")] + [len(r["policy"]) for r in rows])
    print("relative error of the simulated run, (simulated - measured) / measured ('-': a value is null or measured is 0)")
    print(f"{'policy':<{width}s}" + "".join(f" {SHORT[m]:>10s}" for m in METRICS))
    for r in rows:
        print(f"{r['policy']:<{width}s}" + "".join(f" {pct(r[f'error_{m}']):>10s}" for m in METRICS))
    for m in METRICS:
        med = medians[m]["median_abs_error"]
        shown = "-" if med is None else f"{med * 100:.1f}%"
        n = medians[m]["pairs"]
        print(f"median |error| {m}: {shown} over {n} {'policy' if n == 1 else 'policies'}")
    shown = "-" if overall is None else f"{overall * 100:.1f}%"
    print(f"median |error| over {len(all_errs)} policy-metric pairs: {shown} "
          f"(simulated {cost_model} vs measured on {gpu})")

    if a.json:
        doc = {"measured": {"path": meas["path"], "provenance": meas["provenance"]},
               "simulated": {"path": sim["path"], "provenance": sim["provenance"]},
               "definitions": {"error": "(simulated - measured) / measured; null when either is null or measured is 0",
                               "median_abs_error": "median over policies (per metric) or over every policy-metric "
                                                   "pair (overall) of |error|, nulls left out"},
               "rows": rows, "medians": medians,
               "overall": {"median_abs_error": overall, "pairs": len(all_errs)}}
        try:
            with open(a.json, "w") as f:
                json.dump(doc, f, indent=2)
                f.write("\n")
        except OSError as e:
            print(f"serving_fidelity: {a.json}: cannot write: {e.strerror}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
