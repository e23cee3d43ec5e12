#!/usr/bin/env python3
"""The overload soak: every policy on the demo mix (experiments/demo/mixed4.yaml) at LOADS times its
load for DURATION seconds of simulated time, each policy in its own `dstack run` process so its peak
memory is its own (the child's ru_maxrss). For every run it checks what a server must guarantee
under overload:
  - the run finishes, exit 0, within --timeout seconds of host time;
  - every request is accounted: per model, warm-up + window requests equal the rows of requests.csv,
    and requests = served + late + rejected, every rejection with its reason
    (queue_full + dropped + unserved = rejected);
  - queues stay bounded: each model's peak queue length is at most its max_queue.
Writes OUT/soak.csv (one row per policy and load, '#' provenance lines first) and OUT/soak.json, and
exits 1 naming each violation. Run folders are deleted after their check unless --keep (a 100x run's
requests.csv is about a gigabyte).

Usage: tools/soak.py --dstack build/app/dstack --out out/soak [--duration 30] [--loads 10,100]
"""
import argparse
import csv
import datetime
import json
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(ROOT, "experiments", "demo", "mixed4.yaml")


def run_policy(dstack, policy, load, duration, warmup, out_dir, timeout):
    """One `dstack run`; returns (exit status, host seconds, peak RSS in MiB, output tail)."""
    cmd = [dstack, "run", CONFIG, "--policies", policy, "--load", str(load), "--duration", str(duration),
           "--warmup", str(warmup), "-o", out_dir]
    log_path = out_dir + ".log"
    start = time.monotonic()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        deadline = start + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                status = -1
                break
            time.sleep(0.05)
    wall = time.monotonic() - start
    rc = -1 if status == -1 else os.waitstatus_to_exitcode(status)
    with open(log_path) as f:
        tail = f.read()[-2000:]
    os.remove(log_path)
    return rc, wall, usage.ru_maxrss / 1024.0, cmd, tail


def check_run(out_dir, policy):
    """The accounting and queue checks of one finished run: (row fields, problems)."""
    problems = []
    with open(os.path.join(out_dir, policy, "metrics.json")) as f:
        metrics = json.load(f)
    with open(os.path.join(out_dir, "config.json")) as f:
        config = json.load(f)
    max_queue = {m["name"]: m["max_queue"] for m in config["models"]}
    rows = {}
    with open(os.path.join(out_dir, policy, "requests.csv")) as f:
        reader = csv.reader(line for line in f if not line.startswith("#"))
        header = next(reader)
        col = header.index("model")
        for r in reader:
            rows[r[col]] = rows.get(r[col], 0) + 1
    totals = {k: 0 for k in ["requests", "served", "late", "rejected", "rejected_queue_full", "rejected_dropped",
                             "rejected_unserved", "warmup_requests"]}
    peak_fill = 0.0
    for m in metrics["models"]:
        name = m["name"]
        for k in totals:
            totals[k] += m[k]
        if m["warmup_requests"] + m["requests"] != rows.get(name, 0):
            problems.append(f"{name}: {m['warmup_requests']} + {m['requests']} requests in the metrics, "
                            f"{rows.get(name, 0)} rows in requests.csv")
        if m["served"] + m["late"] + m["rejected"] != m["requests"]:
            problems.append(f"{name}: served {m['served']} + late {m['late']} + rejected {m['rejected']} "
                            f"!= requests {m['requests']}")
        reasons = m["rejected_queue_full"] + m["rejected_dropped"] + m["rejected_unserved"]
        if reasons != m["rejected"]:
            problems.append(f"{name}: {m['rejected'] - reasons} rejections without a reason")
        peak = m.get("peak_queued")
        if peak is None or peak > max_queue[name]:
            problems.append(f"{name}: peak queue {peak} exceeds max_queue {max_queue[name]}")
        else:
            peak_fill = max(peak_fill, peak / max_queue[name])
    totals["peak_queue_fill"] = round(peak_fill, 4)
    return totals, problems


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dstack", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--duration", type=float, default=30)
    ap.add_argument("--warmup", type=float, default=0.5)
    ap.add_argument("--loads", default="10,100")
    ap.add_argument("--policies", default="dstack,ideal,temporal,triton,clipper,nexus,gslice,mps")
    ap.add_argument("--timeout", type=float, default=1800, help="host seconds one run may take")
    ap.add_argument("--keep", action="store_true", help="keep every run's folder")
    a = ap.parse_args()
    if not (a.duration > a.warmup >= 0):
        sys.exit(f"soak: --duration {a.duration} must exceed --warmup {a.warmup}")
    loads = [float(x) for x in a.loads.split(",")]
    os.makedirs(a.out, exist_ok=True)
    info = json.loads(subprocess.run([a.dstack, "info", "--json"], check=True, capture_output=True, text=True).stdout)
    build = info["build"]
    commit = build["commit"] + ("+dirty" if build.get("dirty") else "")
    fields = ["policy", "load", "duration_s", "exit", "wall_s", "peak_rss_mib", "warmup_requests", "requests",
              "served", "late", "rejected", "rejected_queue_full", "rejected_dropped", "rejected_unserved",
              "peak_queue_fill", "checks"]
    results, failures = [], []
    for load in loads:
        for policy in a.policies.split(","):
            run_dir = os.path.join(a.out, f"load_{load:g}", policy)
            shutil.rmtree(run_dir, ignore_errors=True)
            os.makedirs(os.path.dirname(run_dir), exist_ok=True)
            rc, wall, rss, cmd, tail = run_policy(a.dstack, policy, load, a.duration, a.warmup, run_dir, a.timeout)
            row = {"policy": policy, "load": load, "duration_s": a.duration, "exit": rc, "wall_s": round(wall, 2),
                   "peak_rss_mib": round(rss, 1)}
            if rc != 0:
                problems = [("timed out after %g s" % a.timeout) if rc == -1 else f"exit {rc}: {tail.strip()}"]
            else:
                totals, problems = check_run(run_dir, policy)
                row.update(totals)
            row["checks"] = "pass" if not problems else "; ".join(problems)
            results.append(row)
            failures += [f"{policy} at {load:g}x: {p}" for p in problems]
            print(f"soak: {policy:8s} {load:g}x {a.duration:g} s: {row['checks']}, {wall:.1f} s host, "
                  f"peak {rss:.0f} MiB", flush=True)
            if not a.keep:
                shutil.rmtree(run_dir, ignore_errors=True)
    provenance = {
        "what": "overload soak (tools/soak.py)",
        "config": os.path.relpath(CONFIG, ROOT),
        "simulated": True,
        "device": "h100_sxm (simulated)",
        "commit": commit,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "host": f"{os.cpu_count()} cores",
        "command": " ".join(sys.argv),
    }
    with open(os.path.join(a.out, "soak.csv"), "w", newline="") as f:
        for k, v in provenance.items():
            f.write(f"# {k}: {v}\n")
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        for r in results:
            w.writerow(r)
    with open(os.path.join(a.out, "soak.json"), "w") as f:
        json.dump({"provenance": provenance, "runs": results}, f, indent=2)
        f.write("\n")
    if failures:
        print("soak: FAILED\n  " + "\n  ".join(failures), file=sys.stderr)
        sys.exit(1)
    print(f"soak: every run passed; {os.path.join(a.out, 'soak.csv')}")


if __name__ == "__main__":
    main()
