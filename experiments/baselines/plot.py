"""Paper item 5 from the runs' comparison.csv files: per mix (columns) and load factor (x), every
policy's goodput, SLO attainment, SM utilization and p99 latency; baselines.csv (all numbers, one
row per mix, load and policy) and baselines_summary.json (D-STACK's goodput over each baseline's:
at load 1 and the largest over all loads, the paper's "up to" form)."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "common"))
import figure  # noqa: E402
from figure import plt  # noqa: E402

out = sys.argv[1]
rows = []
for d in sorted(os.listdir(os.path.join(out, "runs"))):
    mix, load = d.rsplit("_x", 1)
    config = figure.read_json(os.path.join(out, "runs", d, "config.json"))
    offered = sum(m["workload"].get("rate_rps", 0) for m in config["models"])
    for r in figure.read_csv(os.path.join(out, "runs", d, "comparison.csv")):
        num = lambda k: float(r[k]) if r.get(k, "") not in ("", "-") else float("nan")  # noqa: E731
        rows.append({"mix": mix, "models": len(config["models"]), "load": float(load), "offered_rps": offered,
                     "policy": r["policy"],
                     "throughput_rps": num("throughput_rps"), "goodput_rps": num("goodput_rps"),
                     "sm_utilization": num("sm_utilization"), "sm_allocated": num("sm_allocated"),
                     "slo_attainment": num("slo_attainment"), "p99_ms": num("p99_ms"),
                     "jain_fairness": num("jain_fairness")})
keys = list(rows[0])
with open(os.path.join(out, "baselines.csv"), "w") as f:
    f.write(",".join(keys) + "\n")
    for r in rows:
        f.write(",".join(f"{r[k]:.6g}" if isinstance(r[k], float) else str(r[k]) for k in keys) + "\n")

mixes = sorted({r["mix"] for r in rows}, key=lambda m: int(m[3:]))
policies = list(dict.fromkeys(r["policy"] for r in rows))
get = lambda mix, pol, load, key: next(r[key] for r in rows if r["mix"] == mix and r["policy"] == pol and r["load"] == load)  # noqa: E731

# D-STACK's goodput over each baseline's, per mix and load.
summary = {"definition": "goodput (requests within their SLO per second) of dstack / the baseline's, same arrivals; "
                         "max_where_baseline_serves_10pct leaves out runs where the baseline's goodput is under 10% of "
                         "the offered load (there the ratio is unbounded and says only that the baseline collapsed)",
           "ratios": {}}
for pol in policies:
    if pol == "dstack":
        continue
    per = {}
    for mix in mixes:
        for load in sorted({r["load"] for r in rows if r["mix"] == mix}):
            base = get(mix, pol, load, "goodput_rps")
            per[f"{mix}_x{load:g}"] = get(mix, "dstack", load, "goodput_rps") / base if base > 0 else None
    finite = [v for v in per.values() if v is not None]
    served = [per[f"{mix}_x{load:g}"] for mix in mixes for load in sorted({r["load"] for r in rows if r["mix"] == mix})
              if per[f"{mix}_x{load:g}"] is not None and get(mix, pol, load, "goodput_rps") >= 0.1 * get(mix, pol, load, "offered_rps")]
    summary["ratios"][pol] = {"per_run": per, "max": max(finite) if finite else None,
                              "max_where_baseline_serves_10pct": max(served) if served else None,
                              "at_load_1": {m: per.get(f"{m}_x1") for m in mixes}}
with open(os.path.join(out, "baselines_summary.json"), "w") as f:
    json.dump(summary, f, indent=2)
    f.write("\n")

metrics = [("goodput_rps", "goodput (req/s within SLO)", 1), ("slo_attainment", "SLO attainment (%)", 100),
           ("sm_utilization", "SM utilization (%, occupied SMs)", 100), ("p99_ms", "p99 latency (ms, log)", 1)]
fig, axes = plt.subplots(len(metrics), len(mixes), figsize=(3.6 * len(mixes), 2.6 * len(metrics)), squeeze=False)
for c, mix in enumerate(mixes):
    loads = sorted({r["load"] for r in rows if r["mix"] == mix})
    n = next(r["models"] for r in rows if r["mix"] == mix)
    for r_, (key, label, scale) in enumerate(metrics):
        ax = axes[r_][c]
        for pol in policies:
            ys = [get(mix, pol, load, key) * scale for load in loads]
            ax.plot(loads, ys, marker="o", ms=3, lw=2.2 if pol == "dstack" else 1.2,
                    color=figure.POLICY_COLORS.get(pol), label=pol)
        if key == "p99_ms":
            ax.set_yscale("log")
        if r_ == 0:
            ax.set_title(f"{mix}: {n} models")
        if c == 0:
            ax.set_ylabel(label, fontsize=8)
        if r_ == len(metrics) - 1:
            ax.set_xlabel("load factor (x the config's rates)")
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=7)
axes[0][0].legend(fontsize=6, ncol=2)
fig.suptitle("D-STACK vs the baselines on mixed workloads (paper item 5); same arrivals per run")
fig.tight_layout(rect=(0, 0.02, 1, 0.97))
figure.save(fig, out, "baselines")
