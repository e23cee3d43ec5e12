"""Paper item 6: behaviour under changing load. Reads OUT/run/ (what `dstack run` wrote: config.json,
comparison.csv, <policy>/requests.csv and runs.csv), bins time, and writes OUT/timeseries.csv and
OUT/dynamic_load.png: per model the offered rate and goodput, and the SLO attainment, of every policy
over time; below, the SMs D-STACK gives each model (its re-planning) with a tick at each new layout.

Definitions (per bin, by arrival time): offered = requests arriving in the bin / bin length;
goodput = those of them served within their SLO / bin length; SLO attainment = served / arrived.
SMs of a model = for the layout in force at the bin's middle, the sum over the partitions the model
ran on of the partition's SMs divided by how many models ran on it (a shared, time-multiplexed
partition is split evenly), so the stacked SMs of all models are the SMs the layout uses. A layout
is in force from its first dispatch (runs.csv `layout`, `submitted_s`)."""
import collections
import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from figure import POLICY_COLORS, plt, read_csv, read_json, save  # noqa: E402

BIN_S = 0.25


def layouts_of(runs):
    """Per layout index: when it came into force and {model: SMs} (shared partitions split evenly)."""
    start, members, sms = {}, collections.defaultdict(lambda: collections.defaultdict(set)), {}
    for r in runs:
        lay, part = int(r["layout"]), int(r["partition"])
        start[lay] = min(start.get(lay, math.inf), float(r["submitted_s"]))
        members[lay][part].add(r["model"])
        sms[(lay, part)] = int(r["sms"])
    out = []
    for lay in sorted(start):
        share = collections.defaultdict(float)
        for part, models in members[lay].items():
            for m in models:
                share[m] += sms[(lay, part)] / len(models)
        out.append((start[lay], dict(share)))
    return out


def series(requests, runs, models, duration):
    nbins = int(math.ceil(duration / BIN_S - 1e-9))
    arrived = {m: [0] * nbins for m in models}
    served = {m: [0] * nbins for m in models}
    for q in requests:
        b = min(int(float(q["arrival_s"]) / BIN_S), nbins - 1)
        arrived[q["model"]][b] += 1
        served[q["model"]][b] += q["outcome"] == "served"
    lays = layouts_of(runs)
    rows = []
    for b in range(nbins):
        mid = (b + 0.5) * BIN_S
        current = {}
        for t, share in lays:
            if t <= mid:
                current = share
        for m in models:
            a = arrived[m][b]
            rows.append({"model": m, "t_start_s": b * BIN_S, "t_end_s": (b + 1) * BIN_S,
                         "offered_rps": a / BIN_S, "goodput_rps": served[m][b] / BIN_S,
                         "slo_attainment": served[m][b] / a if a else math.nan,
                         "sms": current.get(m, 0.0)})
    return rows, [t for t, _ in lays]


def main():
    out = sys.argv[1]
    run = os.path.join(out, "run")
    config = read_json(os.path.join(run, "config.json"))
    models = [m["name"] for m in config["models"]]
    slo = {m["name"]: m["slo_ms"] for m in config["models"]}
    duration = float(config["duration_s"])
    comparison = {r["policy"]: r for r in read_csv(os.path.join(run, "comparison.csv"))}
    policies = list(comparison)

    data, replans = {}, {}
    with open(os.path.join(out, "timeseries.csv"), "w") as f:
        f.write("policy,model,t_start_s,t_end_s,offered_rps,goodput_rps,slo_attainment,sms\n")
        for p in policies:
            rows, starts = series(read_csv(os.path.join(run, p, "requests.csv")),
                                  read_csv(os.path.join(run, p, "runs.csv")), models, duration)
            data[p], replans[p] = rows, starts
            for r in rows:
                att = "" if math.isnan(r["slo_attainment"]) else f"{r['slo_attainment']:.4f}"
                f.write(f"{p},{r['model']},{r['t_start_s']:.3f},{r['t_end_s']:.3f},{r['offered_rps']:.1f},"
                        f"{r['goodput_rps']:.1f},{att},{r['sms']:.1f}\n")

    fig = plt.figure(figsize=(11, 11.5))
    gs = fig.add_gridspec(len(models) + 1, 2, height_ratios=[1] * len(models) + [1.3], hspace=0.45, wspace=0.18,
                          left=0.07, right=0.98, top=0.91, bottom=0.06)
    for i, m in enumerate(models):
        ax_rate, ax_att = fig.add_subplot(gs[i, 0]), fig.add_subplot(gs[i, 1])
        first = data[policies[0]]
        t = [r["t_start_s"] for r in first if r["model"] == m]
        ax_rate.step(t, [r["offered_rps"] for r in first if r["model"] == m], where="post", color="black",
                     lw=2.2, alpha=0.35, label="offered")
        for p in policies:
            rows = [r for r in data[p] if r["model"] == m]
            c = POLICY_COLORS.get(p, None)
            ax_rate.step(t, [r["goodput_rps"] for r in rows], where="post", color=c, lw=1.1, label=f"{p} goodput")
            ax_att.step(t, [100 * r["slo_attainment"] for r in rows], where="post", color=c, lw=1.1, label=p)
        ax_rate.set_ylabel("req/s")
        ax_rate.set_title(f"{m} (SLO {slo[m]:g} ms): offered rate and goodput", fontsize=9, loc="left")
        ax_att.set_title(f"{m}: SLO attainment (%)", fontsize=9, loc="left")
        ax_att.set_ylim(-3, 103)
        for ax in (ax_rate, ax_att):
            ax.set_xlim(0, duration)
            ax.grid(alpha=0.3)
            ax.tick_params(labelsize=8)
        if i == 0:
            ax_rate.legend(fontsize=7, ncol=2, loc="upper left")
            ax_att.legend(fontsize=7, ncol=len(policies), loc="lower left")

    ax = fig.add_subplot(gs[len(models), :])
    if "dstack" in data:
        t = [r["t_start_s"] for r in data["dstack"] if r["model"] == models[0]]
        stacks = [[r["sms"] for r in data["dstack"] if r["model"] == m] for m in models]
        colors = plt.get_cmap("Set2").colors  # not the policy colours
        base = [0.0] * len(t)
        for k, (m, s) in enumerate(zip(models, stacks)):
            top = [b + v for b, v in zip(base, s)]
            ax.fill_between(t + [duration], base + [base[-1]], top + [top[-1]], step="post",
                            color=colors[k % len(colors)], alpha=0.9, label=m)
            base = top
        for x in replans["dstack"][1:]:
            ax.axvline(x, color="black", lw=0.6, ls=":")
        ax.set_xlim(0, duration)
        ax.set_ylim(0, 155)
        ax.set_ylabel("SMs")
        ax.set_xlabel("time (s); dotted: dstack applies a new partition layout")
        ax.set_title(f"dstack: SMs per model ({len(replans['dstack'])} layouts in {duration:g} s; a shared "
                     "partition is split evenly among its models)", fontsize=9, loc="left")
        ax.legend(fontsize=8, ncol=len(models), loc="upper right")
        ax.grid(alpha=0.3)
    summary = ";  ".join(f"{p} {float(comparison[p]['goodput_rps']):.0f} req/s, "
                        f"{100 * float(comparison[p]['slo_attainment']):.1f}%" for p in policies)
    half = (len(policies) + 1) // 2
    parts = summary.split(";  ")
    summary = ";  ".join(parts[:half]) + "\n" + ";  ".join(parts[half:])
    fig.suptitle(f"Changing load (paper item 6): rates step and ramp; {1000 * BIN_S:g} ms bins by arrival time\n"
                 f"whole run after {config['warmup_s']:g} s warm-up, goodput and SLO attainment:\n{summary}",
                 fontsize=9.5)
    save(fig, out, "dynamic_load")


if __name__ == "__main__":
    main()
