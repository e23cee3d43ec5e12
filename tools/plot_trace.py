#!/usr/bin/env python3
"""Draws a dstack serving trace (the Chrome/Perfetto JSON of runtime/serve/perfetto_trace.h) as a PNG:
time on x, SMs on y, one rectangle per batch that ran, one colour per model; counters (queue lengths)
below when the trace has any. The title carries the trace's provenance (its "otherData").

    plot_trace.py results/<experiment>/trace.json --out trace.png [--title TEXT]

Needs matplotlib (Debian: apt-get install python3-matplotlib).
"""
import argparse
import json
import sys


def load_trace(path):
    with open(path) as f:
        trace = json.load(f)
    runs, counters = [], {}
    for e in trace.get("traceEvents", []):
        if e.get("ph") == "X":
            args = e.get("args", {})
            if "first_sm" not in args or "sms" not in args:
                sys.exit(f"plot_trace: {path}: event {e.get('name')!r} at {e.get('ts')} us has no first_sm/sms args; "
                         "is this a dstack serving trace?")
            runs.append((e["ts"] / 1e3, e["dur"] / 1e3, args["first_sm"], args["sms"], e["name"]))
        elif e.get("ph") == "C":
            counters.setdefault(e["name"], []).append((e["ts"] / 1e3, e["args"]["value"]))
    process = next((e["args"]["name"] for e in trace.get("traceEvents", [])
                    if e.get("ph") == "M" and e.get("name") == "process_name"), "GPU")
    return runs, counters, trace.get("otherData", {}), process


def title_of(provenance, process):
    scalars = [f"{k}={v}" for k, v in sorted(provenance.items()) if not isinstance(v, (dict, list))]
    lines, line = [process], ""
    for item in scalars:  # wrap the provenance so a long one stays readable
        if line and len(line) + len(item) > 100:
            lines.append(line)
            line = ""
        line = f"{line}, {item}" if line else item
    if line:
        lines.append(line)
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trace", help="trace JSON written by the serving loop")
    parser.add_argument("--out", required=True, help="PNG to write")
    parser.add_argument("--title", help="title instead of the provenance")
    args = parser.parse_args()
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.patches import Patch, Rectangle
    except ImportError:
        sys.exit("plot_trace: needs matplotlib (Debian: apt-get install python3-matplotlib; make setup installs it)")

    runs, counters, provenance, process = load_trace(args.trace)
    if not runs:
        sys.exit(f"plot_trace: {args.trace}: no runs (\"X\" events) to draw")
    models = sorted({r[4] for r in runs})
    palette = plt.get_cmap("tab20" if len(models) > 10 else "tab10")
    colour = {m: palette(i % palette.N) for i, m in enumerate(models)}

    rows = 2 if counters else 1
    fig, axes = plt.subplots(rows, 1, figsize=(12, 6 if rows == 1 else 8), sharex=True, squeeze=False,
                             gridspec_kw={"height_ratios": [3, 1][:rows]})
    ax = axes[0][0]
    for start, dur, first_sm, sms, model in runs:
        ax.add_patch(Rectangle((start, first_sm), dur, sms, facecolor=colour[model], edgecolor="black", linewidth=0.3))
    end = max(s + d for s, d, *_ in runs)
    top = max(f + n for _, _, f, n, _ in runs)
    ax.set_xlim(min(r[0] for r in runs), end)
    ax.set_ylim(0, top)
    ax.set_ylabel("SM")
    ax.legend(handles=[Patch(facecolor=colour[m], label=m) for m in models], loc="upper left",
              bbox_to_anchor=(1.01, 1), fontsize="small")
    ax.set_title(args.title or title_of(provenance, process), fontsize="medium")

    if counters:
        cax = axes[1][0]
        for name in sorted(counters):
            points = sorted(counters[name])
            points.append((max(end, points[-1][0]), points[-1][1]))  # hold the last value to the end
            cax.step([p[0] for p in points], [p[1] for p in points], where="post", label=name)
        cax.set_ylabel("count")
        cax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")
    axes[-1][0].set_xlabel("time (ms)")
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    print(f"plot_trace: wrote {args.out} ({len(runs)} runs, {len(models)} models)")


if __name__ == "__main__":
    main()
