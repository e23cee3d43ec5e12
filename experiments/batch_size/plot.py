"""Batch size vs latency and throughput against the SLO, at the knee share (paper item 3). Per model,
latency (top) and throughput = batch / latency (bottom) against the batch, on the knee share (the
parallelism model's knee at batch 1), on the SMs of the optimizer's free choice and on the whole GPU;
the SLO, the optimizer's latency bound (2 x latency <= SLO alone), the arrival rate, and the
optimizer's choices marked. Reads OUT/profile.csv, OUT/knee.json, OUT/choice_*.json; writes
OUT/batch_size.csv, OUT/choices.csv and OUT/batch_size.png."""
import csv
import os
import sys
from collections import defaultdict

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from figure import plt, read_csv, read_json, save  # noqa: E402
from matplotlib.ticker import FormatStrFormatter  # noqa: E402

SHARE_STYLE = {"knee": ("#d62728", "-", "o"), "optimizer": ("#1f77b4", "--", "s"), "full": ("#7f7f7f", ":", None)}


def main(out):
    knee = read_json(os.path.join(out, "knee.json"))
    knee_sms = {r["model"]: r["knee_sms"] for r in knee["results"]}
    knee_batch = knee["results"][0]["batch"]
    models = list(knee_sms)
    lat = defaultdict(dict)  # (model, sms) -> {batch: ms}
    for r in read_csv(os.path.join(out, "profile.csv")):
        lat[(r["model"], int(r["sms"]))][int(r["batch"])] = float(r["latency_ms"])
    smax = max(s for (_, s) in lat)

    rows, choices = [], []
    for m in models:
        at_knee = read_json(os.path.join(out, f"choice_{m}_knee.json"))
        free = read_json(os.path.join(out, f"choice_{m}.json"))
        slo, rate = free["slo_ms"], free["rate_rps"]
        shares = {"knee": knee_sms[m], "optimizer": free["sms"], "full": smax}
        for share, sms in shares.items():
            for b, t in sorted(lat[(m, sms)].items()):
                rows.append({"model": m, "share": share, "sms": sms, "batch": b, "latency_ms": f"{t:.6g}",
                             "throughput_rps": f"{1000 * b / t:.6g}", "slo_ms": slo, "rate_rps": rate,
                             "within_bound": int(2 * t <= slo)})
        choices.append({
            "model": m, "slo_ms": slo, "rate_rps": rate, "knee_batch": knee_batch, "knee_sms": knee_sms[m],
            "knee_choice_batch": at_knee["batch"], "knee_choice_latency_ms": round(at_knee["latency_ms"], 4),
            "knee_choice_throughput_rps": round(1000 * at_knee["batch"] / at_knee["latency_ms"], 1),
            "knee_choice_binding": at_knee["binding"],
            "knee_share_carries_rate": int("rate_refused" not in at_knee),
            "free_choice_batch": free["batch"], "free_choice_sms": free["sms"],
            "free_choice_latency_ms": round(free["latency_ms"], 4),
            "free_choice_capacity_rps": round(free["capacity_rps"], 1),
            "free_choice_sm_ms_per_request": round(free["sm_ms_per_request"], 4),
            "free_choice_binding": free["binding"], "free_choice_why": free["why"],
        })
    for name, data in (("batch_size.csv", rows), ("choices.csv", choices)):
        with open(os.path.join(out, name), "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(data[0]))
            w.writeheader()
            w.writerows(data)

    n = len(models)
    fig, axes = plt.subplots(2, n, figsize=(3.3 * n, 5.6), squeeze=False, sharex=True)
    for j, (m, ch) in enumerate(zip(models, choices)):
        ax_l, ax_t = axes[0, j], axes[1, j]
        shares = {"knee": ch["knee_sms"], "optimizer": ch["free_choice_sms"], "full": smax}
        drawn = set()
        for share, sms in shares.items():
            if sms in drawn:
                continue
            drawn.add(sms)
            col, ls, mk = SHARE_STYLE[share]
            pts = sorted(lat[(m, sms)].items())
            bs = [b for b, _ in pts]
            label = {"knee": f"knee share, {sms} SMs", "optimizer": f"optimizer's share, {sms} SMs",
                     "full": f"whole GPU, {sms} SMs"}[share]
            ax_l.plot(bs, [t for _, t in pts], ls=ls, color=col, lw=1.2, label=label)
            ax_t.plot(bs, [1000 * b / t for b, t in pts], ls=ls, color=col, lw=1.2)
        ax_l.axhline(ch["slo_ms"], color="black", lw=1.0, label=f"SLO {ch['slo_ms']:g} ms")
        ax_l.axhline(ch["slo_ms"] / 2, color="black", lw=0.8, ls="-.", label="SLO / 2 (optimizer's bound)")
        ax_t.axhline(ch["rate_rps"], color="#2ca02c", lw=1.0, ls="-.", label=f"rate {ch['rate_rps']:g} req/s")
        # The choices: at the knee share (red star) and free (blue diamond).
        kb, kt = ch["knee_choice_batch"], ch["knee_choice_latency_ms"]
        ax_l.plot([kb], [kt], "*", color=SHARE_STYLE["knee"][0], ms=11, mec="black", mew=0.5,
                  label=f"choice at knee: b={kb}" + ("" if ch["knee_share_carries_rate"] else " (rate too high)"))
        ax_t.plot([kb], [1000 * kb / kt], "*", color=SHARE_STYLE["knee"][0], ms=11, mec="black", mew=0.5)
        fb, ft = ch["free_choice_batch"], ch["free_choice_latency_ms"]
        ax_l.plot([fb], [ft], "D", color=SHARE_STYLE["optimizer"][0], ms=6, mec="black", mew=0.5,
                  label=f"free choice: b={fb} on {ch['free_choice_sms']} SMs")
        ax_t.plot([fb], [1000 * fb / ft], "D", color=SHARE_STYLE["optimizer"][0], ms=6, mec="black", mew=0.5)
        ax_l.set_title(m, fontsize=9)
        ax_l.set_ylim(0, 2.2 * ch["slo_ms"])
        ax_l.legend(fontsize=5.5, loc="upper left")
        ax_t.legend(fontsize=6, loc="lower right")
        ax_t.set_xscale("log", base=2)
        ax_t.xaxis.set_major_formatter(FormatStrFormatter("%g"))
        ax_t.set_xlabel("batch size", fontsize=8)
        for ax in (ax_l, ax_t):
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3, lw=0.4)
        ax_t.set_ylim(bottom=0)
    axes[0, 0].set_ylabel("latency of a batch (ms)", fontsize=8)
    axes[1, 0].set_ylabel("throughput (requests/s)", fontsize=8)
    fig.suptitle(f"Batch size vs latency and throughput at the knee share (predicted knee at batch {knee_batch}); "
                 "optimizer: least SM-time per request with 2 x latency <= SLO", fontsize=9)
    fig.tight_layout(rect=(0, 0.03, 1, 0.96))
    save(fig, out, "batch_size")


if __name__ == "__main__":
    main(sys.argv[1])
