"""Writes OUT/provenance.json for one experiment run (called by lib.sh's `finish`): what ran, on
what, from which commit, when, and which files it produced. The commit is the dstack binary's own
(`dstack info --json`), so a figure names the code that made it, not the checkout around it."""
import argparse
import datetime
import json
import os
import subprocess
import sys


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", required=True)
    p.add_argument("--experiment", required=True)
    p.add_argument("--paper-item", required=True)
    p.add_argument("--dstack", required=True)
    p.add_argument("--backend", required=True)
    p.add_argument("--device", required=True)
    p.add_argument("--quick", required=True)
    p.add_argument("--seconds", type=int, required=True)
    p.add_argument("--kernel-times", default="", help="the measured kernel times calibrating the cost model, if any")
    p.add_argument("outputs", nargs="+", help="files the experiment produced, relative to --out")
    a = p.parse_args()

    missing = [f for f in a.outputs if not os.path.isfile(os.path.join(a.out, f))]
    if missing:
        sys.exit(f"{a.experiment}: expected outputs missing in {a.out}: {', '.join(missing)}")
    info = json.loads(subprocess.run([a.dstack, "info", "--json"], check=True, capture_output=True, text=True).stdout)
    build = info["build"]
    with open(os.path.join(a.out, "commands.txt")) as f:
        commands = [line.rstrip("\n") for line in f if line.strip()]
    prov = {
        "experiment": a.experiment,
        "paper_item": a.paper_item,
        "backend": a.backend,
        "simulated": a.backend == "sim",
        "device": a.device if a.backend == "sim" else (info.get("gpu", {}).get("devices") or [{}])[0].get("name", "?"),
        "cost_model": (f"calibrated from {a.kernel_times}" if a.kernel_times else "roofline") if a.backend == "sim" else None,
        "commit": build["commit"] + ("+dirty" if build.get("dirty") else ""),
        "dstack_version": build["version"],
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "quick": a.quick == "1",
        "seconds": a.seconds,
        "commands": commands,
        "outputs": a.outputs,
    }
    with open(os.path.join(a.out, "provenance.json"), "w") as f:
        json.dump(prov, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
