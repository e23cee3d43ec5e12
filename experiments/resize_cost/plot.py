"""Paper item 7: the cost of re-sizing a partition. Reads what run.sh left in OUT (never logs):
measured/bench_partitions.json (Google Benchmark JSON of bench/bench_partitions.cc on an H100, when
present), and per variant and device <variant>/<device>/dstack/{metrics.json,requests.csv,runs.csv},
plus reference/<policy>/ (gslice, triton: they never re-size). Writes OUT/measured_costs.csv (when the
measurement is there), OUT/resize_cost.csv and OUT/resize_cost.png.

Each run's re-size cost is the device description's timing.partition_create_us (the file named in
metrics.json's provenance). Metrics are computed here from requests.csv over the requests arriving
after start-up, max(warm-up, n0 x cost), where n0 is the number of partitions of the first layout:
the simulator creates a layout's new partitions one after another, so at 1 s per partition the
first layout takes seconds to come up, a cost a real deployment pays before taking traffic. The
whole-window numbers (dstack's metrics.json, warm-up only) are in the CSV too."""
import csv
import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from figure import POLICY_COLORS, plt, read_csv, read_json, save  # noqa: E402

DEVICES = ["h100_gc_held", "h100_mps_standby", "h100_gc_create", "h100_sweep_10ms", "h100_sweep_100ms",
           "h100_mps_restart"]
LABELS = {"h100_gc_held": "green ctx\nheld", "h100_mps_standby": "MPS\nstandby", "h100_gc_create": "green ctx\ncreate",
          "h100_sweep_10ms": "(sweep)", "h100_sweep_100ms": "(sweep)", "h100_mps_restart": "MPS cold\nrestart*"}
VARIANTS = {"default": "dstack (re-plan on 20% change, 0.5 s epochs)",
            "damped": "dstack damped (re-plan on 50% change, 1 s epochs)"}


def fmt_us(us):
    if us == 0:
        return "0"
    if us >= 1e6:
        return f"{us / 1e6:g} s"
    if us >= 1e3:
        return f"{us / 1e3:g} ms"
    return f"{us:g} us"


def measured_costs(out):
    path = os.path.join(out, "measured", "bench_partitions.json")
    if not os.path.isfile(path):
        return None
    bench = read_json(path)
    rows = []
    for b in bench["benchmarks"]:
        if b.get("run_type", "iteration") != "iteration":
            continue
        name = b["name"]
        if name.startswith("BM_CreatePartitionFromScratch"):
            what = f"create green ctx ({int(b['sms'])} SMs)"
        elif name.startswith("BM_LaunchOnExistingPartitions"):
            what = f"launch+wait: {b.get('label', name)}"
        else:
            continue
        assert b["time_unit"] == "us", b["time_unit"]
        rows.append({"what": what, "benchmark": name, "real_time_us": b["real_time"], "iterations": b["iterations"]})
    with open(os.path.join(out, "measured_costs.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["what", "benchmark", "real_time_us", "iterations", "source"])
        for r in rows:
            w.writerow([r["what"], r["benchmark"], f"{r['real_time_us']:.3f}", r["iterations"],
                        "bench/bench_partitions.cc on an H100 80GB HBM3 (results/gpu-check/h100-80gb-hbm3/earlier-6c6d513)"])
    return rows, bench.get("context", {})


def evaluate(run_dir, policy):
    """Metrics of one policy's run: whole window (metrics.json) and after start-up (requests.csv)."""
    metrics = read_json(os.path.join(run_dir, policy, "metrics.json"))
    device = read_json(metrics["provenance"]["device_file"])
    cost_us = float(device["timing"]["partition_create_us"])
    runs = read_csv(os.path.join(run_dir, policy, "runs.csv"))
    first = {int(r["partition"]) for r in runs if r["layout"] == "0"}
    start = max(metrics["window"]["start_s"], len(first) * cost_us * 1e-6)
    end = metrics["window"]["end_s"]
    reqs = [q for q in read_csv(os.path.join(run_dir, policy, "requests.csv")) if start <= float(q["arrival_s"]) < end]
    served = sum(q["outcome"] == "served" for q in reqs)
    return {"device": device["name"], "resize_cost_us": cost_us,
            "layouts": 1 + max((int(r["layout"]) for r in runs), default=0),
            "window_start_s": start, "window_end_s": end, "requests": len(reqs), "served": served,
            "slo_attainment": served / len(reqs) if reqs else math.nan,
            "goodput_rps": served / (end - start) if end > start else math.nan,
            "whole_slo_attainment": metrics["all"]["slo_attainment"],
            "whole_goodput_rps": metrics["all"]["goodput_rps"]}


def main():
    out = sys.argv[1]
    measured = measured_costs(out)
    results = []
    for variant in VARIANTS:
        for dev in DEVICES:
            d = os.path.join(out, variant, dev)
            if os.path.isdir(d):
                results.append({"variant": variant, "policy": "dstack", **evaluate(d, "dstack")})
    ref_dir = os.path.join(out, "reference")
    for p in sorted(os.listdir(ref_dir)):
        if os.path.isfile(os.path.join(ref_dir, p, "metrics.json")):
            results.append({"variant": "reference", "policy": p, **evaluate(ref_dir, p)})
    cols = ["variant", "policy", "device", "resize_cost_us", "layouts", "window_start_s", "window_end_s", "requests",
            "served", "slo_attainment", "goodput_rps", "whole_slo_attainment", "whole_goodput_rps"]
    with open(os.path.join(out, "resize_cost.csv"), "w") as f:
        f.write(",".join(cols) + "\n")
        for r in results:
            f.write(",".join(f"{r[c]:.4f}" if isinstance(r[c], float) else str(r[c]) for c in cols) + "\n")

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.8), gridspec_kw={"width_ratios": [1.1, 1, 1]})
    fig.subplots_adjust(left=0.05, right=0.99, top=0.86, bottom=0.17, wspace=0.28)
    ax = axes[0]
    names, values, measured_flags = [], [], []
    if measured:
        for r in measured[0]:
            short = r["what"].replace("create green ctx (", "GC create\n").replace(" SMs)", " SMs")
            names.append(short.replace("launch+wait: ", "launch+wait\n").replace(" partitions", "").replace(" partition", ""))
            values.append(r["real_time_us"])
            measured_flags.append(True)
    names += ["MPS\nstandby", "MPS cold\nrestart*"]
    values += [100.0, 1e6]
    measured_flags += [False, False]
    bars = ax.bar(range(len(values)), values, color=["#d62728" if m else "#bbbbbb" for m in measured_flags],
                  hatch=None, edgecolor="black", lw=0.5)
    for b, m in zip(bars, measured_flags):
        if not m:
            b.set_hatch("//")
    for i, v in enumerate(values):
        ax.text(i, v * 1.3, fmt_us(round(v, 2) if v < 100 else round(v)), ha="center", fontsize=7)
    ax.set_yscale("log")
    ax.set_ylim(1, 1e7)
    ax.set_xticks(range(len(values)), names, fontsize=6.5, rotation=0)
    ax.set_ylabel("microseconds (log)")
    title = "(a) re-size costs"
    if measured:
        ctx = measured[1]
        title += f": red measured on an H100 ({ctx.get('date', '?')[:10]},\nbench_partitions; benchmark library " \
                 f"build {ctx.get('library_build_type', '?')}); grey hatched not measured here"
    else:
        title += ": no measurement in this checkout;\ngrey hatched: not measured here"
    ax.set_title(title, fontsize=8, loc="left")
    ax.grid(axis="y", alpha=0.3)

    x = list(range(len(DEVICES)))
    xt = [f"{fmt_us(next((r['resize_cost_us'] for r in results if r['device'] == d), math.nan))}\n{LABELS[d]}"
          for d in DEVICES]
    for ax, key, ylabel, scale in ((axes[1], "slo_attainment", "SLO attainment (%)", 100),
                                   (axes[2], "goodput_rps", "goodput (req/s)", 1)):
        for variant, style in (("default", "-o"), ("damped", "--s")):
            ys, lays = [], []
            for d in DEVICES:
                r = next((r for r in results if r["variant"] == variant and r["device"] == d), None)
                ys.append(scale * r[key] if r else math.nan)
                lays.append(r["layouts"] if r else None)
            ax.plot(x, ys, style, color=POLICY_COLORS["dstack"], label=VARIANTS[variant],
                    alpha=1 if variant == "default" else 0.6)
            if key == "goodput_rps":
                for xi, y, n in zip(x, ys, lays):
                    if n is not None and not math.isnan(y):
                        ax.annotate(f"{n}", (xi, y), textcoords="offset points",
                                    xytext=(0, 6 if variant == "default" else -12), fontsize=7, ha="center",
                                    color=POLICY_COLORS["dstack"])
        for r in results:
            if r["variant"] == "reference":
                ax.axhline(scale * r[key], color=POLICY_COLORS.get(r["policy"]), ls=":", lw=1.3,
                           label=f"{r['policy']} (never re-sizes)")
        ax.set_xticks(x, xt, fontsize=7)
        ax.set_ylabel(ylabel)
        ax.set_xlabel("re-size cost per new partition (simulated timing.partition_create_us)", fontsize=8)
        ax.grid(alpha=0.3)
    axes[1].set_ylim(-3, 103)
    axes[1].set_title("(b) D-STACK under the changing load of dynamic_load", fontsize=9, loc="left")
    axes[2].set_title("(c) goodput; numbers: partition layouts used in the run", fontsize=9, loc="left")
    axes[1].legend(fontsize=7, loc="lower left")
    w = next((r for r in results if r["variant"] == "default"), None)
    span = f"{w['window_end_s']:g} s run" if w else ""
    fig.suptitle("Re-sizing a partition (paper item 7): green contexts vs MPS. (b), (c): simulated H100, "
                 f"{span}, requests arriving after start-up (first layout provisioned)\n"
                 "* MPS cold restart: an assumed ~1 s (new process, context and weights), not measured; "
                 "MPS standby hand-over ~100 us from GSLICE's code (shared/PAPER.md)", fontsize=9)
    save(fig, out, "resize_cost")


if __name__ == "__main__":
    main()
