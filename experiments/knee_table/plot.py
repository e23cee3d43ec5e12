"""Predicted vs profiled knee (paper item 2): per model and batch, the parallelism model's knee
beside the knee of the profile this run took (simulated, or measured with BACKEND=gpu) and, when
present, of the committed measured H100 profile; the error in SMs and summary statistics.
Reads OUT/knee.json and OUT/knee_measured.json (dstack knee --profile --json); writes
OUT/knee_table.csv, OUT/knee_measured.csv, OUT/knee_summary.json and OUT/knee_table.png."""
import csv
import json
import os
import statistics
import sys
from collections import Counter

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from figure import plt, read_json, save  # noqa: E402
from matplotlib.ticker import FormatStrFormatter  # noqa: E402

MODEL_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                "#bcbd22", "#17becf"]
MARKERS = "osD^v<>phX"


def table(knee):
    """One row per (model, batch): predicted and profiled knee, error, latencies."""
    rows = []
    for r in knee["results"]:
        full = r["curve"][-1]
        at_knee = next(c for c in r["curve"] if c["sms"] == r["knee_sms"])
        prof = [c for c in r["curve"] if c.get("profiled_ms") is not None]
        rows.append({
            "model": r["model"], "batch": r["batch"],
            "predicted_knee_sms": r["knee_sms"],
            "profiled_knee_sms": r.get("profiled_knee_sms"),
            "knee_error_sms": r.get("knee_error_sms"),
            "usable_parallelism": round(r["usable_parallelism"], 2),
            "predicted_ms_at_knee": round(at_knee["latency_ms"], 4),
            "predicted_ms_all_sms": round(full["latency_ms"], 4),
            "profiled_ms_all_sms": round(max(prof, key=lambda c: c["sms"])["profiled_ms"], 4) if prof else None,
            "curve_mean_relative_error": round(r["curve_mean_relative_error"], 4)
            if r.get("curve_mean_relative_error") is not None else None,
        })
    return rows


def write_csv(path, rows):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows({k: ("" if v is None else v) for k, v in row.items()} for row in rows)


def stats(rows, knee):
    errs = [r["knee_error_sms"] for r in rows if r["knee_error_sms"] is not None]
    worst = max((r for r in rows if r["knee_error_sms"] is not None), key=lambda r: abs(r["knee_error_sms"]))
    curve = [r["curve_mean_relative_error"] for r in rows if r["curve_mean_relative_error"] is not None]
    prov = knee.get("profile", {}).get("provenance", {})
    return {
        "profile": "simulated" if prov.get("simulated", True) else "measured",
        "profile_device": prov.get("device_name", prov.get("device")),
        "points": len(errs),
        "exact": sum(e == 0 for e in errs),
        "within_8_sms": sum(abs(e) <= 8 for e in errs),
        "median_abs_error_sms": statistics.median(abs(e) for e in errs),
        "mean_abs_error_sms": round(statistics.mean(abs(e) for e in errs), 2),
        "mean_signed_error_sms": round(statistics.mean(errs), 2),
        "max_abs_error_sms": abs(worst["knee_error_sms"]),
        "worst": f"{worst['model']} b={worst['batch']}: predicted {worst['predicted_knee_sms']}, "
                 f"profiled {worst['profiled_knee_sms']}",
        "curve_error_median": round(statistics.median(curve), 4) if curve else None,
        "curve_error_max": round(max(curve), 4) if curve else None,
        "epsilon": knee["epsilon"],
    }


def scatter(ax, rows, colors, title, s):
    counts = Counter((r["profiled_knee_sms"], r["predicted_knee_sms"]) for r in rows)
    seen = set()
    for r in rows:
        key = (r["profiled_knee_sms"], r["predicted_knee_sms"])
        c, m = colors[r["model"]]
        lab = r["model"] if r["model"] not in seen else None
        seen.add(r["model"])
        ax.scatter([key[0]], [key[1]], s=28, color=c, marker=m, alpha=0.75, label=lab, edgecolors="none")
    for (x, y), n in counts.items():
        if n > 1:
            ax.annotate(f"{n}", (x, y), xytext=(-4, 4), textcoords="offset points", fontsize=6, ha="right",
                        color="#333333")
    lo, hi = 0, 136
    ax.plot([lo, hi], [lo, hi], color="#555555", lw=0.8, ls="--", label="y = x")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal")
    ax.set_xlabel("profiled knee (SMs)", fontsize=8)
    ax.set_ylabel("predicted knee (SMs)", fontsize=8)
    ax.set_title(title, fontsize=9)
    txt = (f"exact {s['exact']}/{s['points']}, within 8 SMs {s['within_8_sms']}/{s['points']}\n"
           f"|error| median {s['median_abs_error_sms']:g}, mean {s['mean_abs_error_sms']:g}, "
           f"max {s['max_abs_error_sms']} SMs")
    if s["curve_error_median"] is not None:
        txt += f"\nlatency curve error median {100 * s['curve_error_median']:.1f}%"
    ax.text(0.03, 0.97, txt, transform=ax.transAxes, fontsize=6.5, va="top",
            bbox=dict(fc="white", ec="#cccccc", lw=0.5))
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3, lw=0.4)
    ax.text(0.97, 0.03, "numbers: (model, batch) points that coincide", transform=ax.transAxes, fontsize=5.5,
            ha="right", color="#555555")


def main(out):
    knee = read_json(os.path.join(out, "knee.json"))
    rows = table(knee)
    write_csv(os.path.join(out, "knee_table.csv"), rows)
    summary = {"this_run": stats(rows, knee)}
    mpath = os.path.join(out, "knee_measured.json")
    mrows = None
    if os.path.isfile(mpath):
        mknee = read_json(mpath)
        mrows = table(mknee)
        write_csv(os.path.join(out, "knee_measured.csv"), mrows)
        summary["measured_profile"] = stats(mrows, mknee)
        summary["measured_profile"]["file"] = os.path.relpath(mknee["profile"]["file"],
                                                              os.path.join(os.path.dirname(__file__), "..", ".."))
    with open(os.path.join(out, "knee_summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")

    models = list(dict.fromkeys(r["model"] for r in rows + (mrows or [])))
    colors = {m: (MODEL_COLORS[i % 10], MARKERS[i % 10]) for i, m in enumerate(models)}
    npanel = 3 if mrows else 2
    fig, axes = plt.subplots(1, npanel, figsize=(4.6 * npanel, 4.4))
    ax = axes[0]
    for m in dict.fromkeys(r["model"] for r in rows):
        rs = [r for r in rows if r["model"] == m]
        c, mk = colors[m]
        ax.plot([r["batch"] for r in rs], [r["predicted_knee_sms"] for r in rs], "-", color=c, lw=1.1, label=m)
        ax.plot([r["batch"] for r in rs], [r["profiled_knee_sms"] for r in rs], mk, color=c, ms=4, mfc="none")
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.set_xlabel("batch size", fontsize=8)
    ax.set_ylabel("knee (SMs)", fontsize=8)
    ax.set_ylim(0, 136)
    ax.set_title("knee vs batch: predicted (lines), profiled (markers)", fontsize=9)
    ax.legend(fontsize=6, loc="lower right", ncol=2)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3, lw=0.4)
    s = summary["this_run"]
    scatter(axes[1], rows, colors, f"predicted vs {s['profile']} profile ({s['profile_device']})", s)
    if mrows:
        s = summary["measured_profile"]
        scatter(axes[2], mrows, colors, f"predicted vs measured profile ({s['profile_device']})", s)
        axes[2].text(0.97, 0.09, "measured latencies ~4-5x the roofline's;\nthe knee depends only on the shape",
                     transform=axes[2].transAxes, fontsize=6, ha="right", color="#555555")
        axes[2].legend(fontsize=6, loc="center right")
    fig.suptitle(f"Predicted (parallelism model) vs profiled knee, epsilon = {knee['epsilon']:g}", fontsize=10)
    fig.tight_layout(rect=(0, 0.03, 1, 0.96))
    save(fig, out, "knee_table")


if __name__ == "__main__":
    main(sys.argv[1])
