"""Paper item 4 from the runs' comparison.csv files: D-STACK's throughput, goodput and SM
utilization as fractions of the ideal scheduler's, per mix and load factor (mean over seeds, range
as error bars). dstack_vs_ideal.csv: one row per mix, load and seed; dstack_vs_ideal_summary.json:
the fractions' mean, min and max over every run."""
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "common"))
import figure  # noqa: E402
from figure import plt  # noqa: E402

out = sys.argv[1]
METRICS = [("throughput_rps", "throughput (served + late)"), ("goodput_rps", "goodput (within SLO)"),
           ("sm_utilization", "SM utilization (occupied SMs)")]
rows = []
for d in sorted(os.listdir(os.path.join(out, "runs"))):
    mix, load, seed = d.split("_")
    by = {r["policy"]: r for r in figure.read_csv(os.path.join(out, "runs", d, "comparison.csv"))}
    row = {"mix": mix, "load": float(load[1:]), "seed": int(seed[1:])}
    for key, _ in METRICS:
        dv, iv = by["dstack"].get(key, ""), by["ideal"].get(key, "")
        row[f"dstack_{key}"] = float(dv) if dv not in ("", "-") else float("nan")
        row[f"ideal_{key}"] = float(iv) if iv not in ("", "-") else float("nan")
        ideal = row[f"ideal_{key}"]
        row[f"fraction_{key}"] = row[f"dstack_{key}"] / ideal if ideal > 0 else float("nan")
    rows.append(row)
keys = list(rows[0])
with open(os.path.join(out, "dstack_vs_ideal.csv"), "w") as f:
    f.write(",".join(keys) + "\n")
    for r in rows:
        f.write(",".join(f"{r[k]:.6g}" if isinstance(r[k], float) else str(r[k]) for k in keys) + "\n")

summary = {"definition": "dstack's value / the ideal scheduler's, same arrivals; over every mix, load and seed",
           "runs": len(rows)}
for key, _ in METRICS:
    v = [r[f"fraction_{key}"] for r in rows if r[f"fraction_{key}"] == r[f"fraction_{key}"]]
    summary[key] = {"mean": statistics.fmean(v), "min": min(v), "max": max(v),
                    "runs_at_or_above_0.9": sum(x >= 0.9 for x in v)} if v else None
with open(os.path.join(out, "dstack_vs_ideal_summary.json"), "w") as f:
    json.dump(summary, f, indent=2)
    f.write("\n")

Y_TOP = 160  # percent
mixes = sorted({r["mix"] for r in rows}, key=lambda m: int(m[3:]))
loads = sorted({r["load"] for r in rows})
fig, axes = plt.subplots(1, len(METRICS), figsize=(4.6 * len(METRICS), 3.6), squeeze=False)
width = 0.8 / len(loads)
for ax, (key, label) in zip(axes[0], METRICS):
    for j, load in enumerate(loads):
        means, lo, hi = [], [], []
        for mix in mixes:
            v = [r[f"fraction_{key}"] * 100 for r in rows if r["mix"] == mix and r["load"] == load]
            m = statistics.fmean(v) if v else float("nan")
            means.append(m)
            lo.append(m - min(v) if v else 0)
            hi.append(max(v) - m if v else 0)
        xs = [i + (j - (len(loads) - 1) / 2) * width for i in range(len(mixes))]
        ax.bar(xs, means, width, yerr=[lo, hi], capsize=2, label=f"load x{load:g}",
               color=plt.cm.Reds(0.35 + 0.6 * j / max(1, len(loads) - 1)))
        # Where the ideal collapses under overload the ratio runs off the scale: print it instead.
        for x, m in zip(xs, means):
            if m > Y_TOP:
                ax.text(x, Y_TOP - 3, f"{m:.0f}%", ha="center", va="top", fontsize=6, rotation=90, color="white")
    ax.axhline(90, color="k", ls="--", lw=1)
    ax.text(len(mixes) - 0.5, 91, "paper: > 90%", ha="right", fontsize=7)
    ax.axhline(100, color="#888888", lw=0.8)
    ax.set_ylim(0, Y_TOP)
    ax.set_xticks(range(len(mixes)), mixes)
    ax.set_ylabel(f"D-STACK / ideal (%): {label}", fontsize=8)
    ax.grid(axis="y", alpha=0.3)
axes[0][0].legend(fontsize=7)
fig.suptitle("D-STACK vs the ideal scheduler (paper item 4); bars: mean over seeds, whiskers: range")
fig.tight_layout(rect=(0, 0.03, 1, 0.95))
figure.save(fig, out, "dstack_vs_ideal")
