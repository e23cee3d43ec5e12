"""Knee curves (paper item 1): per model, latency vs SMs for each batch, normalised to the whole
GPU's latency; the profile's points (simulated or measured), the parallelism model's predicted
curve, the predicted knee (dashed vertical) and the profiled knee (triangle on the top axis).
Reads OUT/knee.json (dstack knee --profile --json); writes OUT/knee_curves.csv and .png."""
import csv
import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from figure import plt, read_json, save  # noqa: E402
from matplotlib.ticker import FixedLocator, FormatStrFormatter, NullFormatter  # noqa: E402

BATCH_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"]


def main(out):
    knee = read_json(os.path.join(out, "knee.json"))
    eps = knee["epsilon"]
    results = knee["results"]
    models = list(dict.fromkeys(r["model"] for r in results))
    batches = sorted({r["batch"] for r in results})
    color = {b: BATCH_COLORS[i % len(BATCH_COLORS)] for i, b in enumerate(batches)}
    measured = not knee.get("profile", {}).get("provenance", {}).get("simulated", True)

    rows = []
    for r in results:
        full_pred = r["curve"][-1]["latency_ms"]
        prof = [c for c in r["curve"] if c.get("profiled_ms") is not None]
        full_prof = max(prof, key=lambda c: c["sms"])["profiled_ms"] if prof else None
        for c in r["curve"]:
            p = c.get("profiled_ms")
            rows.append({
                "model": r["model"], "batch": r["batch"], "sms": c["sms"],
                "predicted_ms": f"{c['latency_ms']:.6g}", "profiled_ms": "" if p is None else f"{p:.6g}",
                "predicted_norm": f"{c['latency_ms'] / full_pred:.6g}",
                "profiled_norm": "" if p is None or not full_prof else f"{p / full_prof:.6g}",
                "predicted_knee_sms": r["knee_sms"], "profiled_knee_sms": r.get("profiled_knee_sms", ""),
            })
    with open(os.path.join(out, "knee_curves.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)

    ncol = min(5, len(models))
    nrow = math.ceil(len(models) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.0 * ncol, 2.7 * nrow + 0.6), squeeze=False, sharey=True)
    smax = max(c["sms"] for r in results for c in r["curve"])
    for ax, model in zip(axes.flat, models):
        for r in (r for r in results if r["model"] == model):
            b, col = r["batch"], color[r["batch"]]
            xs = [c["sms"] for c in r["curve"]]
            full_pred = r["curve"][-1]["latency_ms"]
            ax.plot(xs, [c["latency_ms"] / full_pred for c in r["curve"]], "-", color=col, lw=1.2,
                    label=f"b={b}: {full_pred:.2f} ms @{smax}")
            prof = [c for c in r["curve"] if c.get("profiled_ms") is not None]
            if prof:
                full_prof = max(prof, key=lambda c: c["sms"])["profiled_ms"]
                ax.plot([c["sms"] for c in prof], [c["profiled_ms"] / full_prof for c in prof], "o", color=col,
                        ms=3.5, mfc="none", mew=0.9)
            ax.axvline(r["knee_sms"], color=col, ls="--", lw=0.9)
            if r.get("profiled_knee_sms") is not None:
                ax.plot([r["profiled_knee_sms"]], [0.0], marker="^", color=col, ms=7, ls="none",
                        transform=ax.get_xaxis_transform(), clip_on=False)
        ax.axhline(1 + eps, color="#555555", lw=0.6, ls=":")
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(FixedLocator([1, 1.5, 2, 3, 5, 10, 20, 50]))
        ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_title(model, fontsize=9)
        ax.set_xlim(0, smax + 4)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6, loc="upper right", handlelength=1.2, title="pred. latency on whole GPU",
                  title_fontsize=6)
        ax.grid(alpha=0.3, which="both", lw=0.4)
    for ax in axes.flat[len(models):]:
        ax.axis("off")
    for ax in axes[-1]:
        ax.set_xlabel("SMs in the partition", fontsize=8)
    for ax in axes[:, 0]:
        ax.set_ylabel("latency / latency on all SMs", fontsize=8)
    src = "measured profile" if measured else "simulated profile"
    fig.suptitle(f"Knee curves: predicted latency (lines) vs {src} (circles)\npredicted knee (dashed), "
                 f"profiled knee (triangle on the x axis), dotted: 1 + epsilon = {1 + eps:g}", fontsize=9)
    fig.tight_layout(rect=(0, 0.02, 1, 0.95 if nrow > 1 else 0.92))
    save(fig, out, "knee_curves")


if __name__ == "__main__":
    main(sys.argv[1])
