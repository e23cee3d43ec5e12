"""What every experiments/<name>/plot.py shares: reading the CSV/JSON a run wrote (never logs),
the provenance line under each figure, and saving PNGs small enough to view on GitHub."""
import csv
import json
import os
import subprocess

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# One colour per policy, the same in every figure.
POLICY_COLORS = {
    "dstack": "#d62728", "ideal": "#7f7f7f", "temporal": "#8c564b", "triton": "#1f77b4",
    "clipper": "#ff7f0e", "nexus": "#2ca02c", "gslice": "#9467bd", "mps": "#17becf",
}


def read_csv(path):
    """Rows as dicts; lines starting with '#' (provenance headers) are skipped."""
    with open(path) as f:
        return list(csv.DictReader(line for line in f if not line.startswith("#")))


def read_json(path):
    with open(path) as f:
        return json.load(f)


def run_provenance(out):
    """What the run is: backend, device, commit and date, for the figure's footer. plot.py runs
    before provenance.json exists, so the commit comes from the same binary lib.sh used."""
    dstack = os.environ.get("DSTACK")
    commit = "?"
    if dstack:
        build = json.loads(subprocess.run([dstack, "info", "--json"], check=True, capture_output=True,
                                          text=True).stdout)["build"]
        commit = build["commit"] + ("+dirty" if build.get("dirty") else "")
    backend = os.environ.get("BACKEND", "sim")
    device = os.environ.get("DEVICE", "h100_sxm")
    calibration = os.environ.get("KERNEL_TIMES")
    cost = f"calibrated by {os.path.basename(calibration)}" if calibration else "roofline cost model"
    what = f"simulated {device} ({cost})" if backend == "sim" else "measured on the GPU"
    quick = " | QUICK mode (reduced sizes)" if os.environ.get("QUICK") == "1" else ""
    return f"{what} | dstack {commit}{quick}"


def save(fig, out, name):
    """Writes OUT/name.png with the provenance footer; returns the file name."""
    fig.text(0.005, 0.005, run_provenance(out), fontsize=6, color="#555555", ha="left", va="bottom")
    path = os.path.join(out, name + ".png")
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return name + ".png"
