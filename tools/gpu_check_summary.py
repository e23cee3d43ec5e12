#!/usr/bin/env python3
"""The short tables gpu-check prints last, read from the benchmark JSON it wrote (never from logs):
whole-model latency ours vs the vendor backend vs PyTorch eager, the partition re-size costs, and
the kernel ratios against cuDNN/cuBLAS. Usage: gpu_check_summary.py RESULTS_DIR"""
import json
import math
import os
import sys


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def ms(b):
    scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[b.get("time_unit", "ns")]
    return b["real_time"] * scale


def models_table(doc, torch_doc):
    rows = {}
    for b in doc.get("benchmarks", []):
        if not b["name"].startswith("model/whole_gpu") or b.get("error_occurred"):
            continue
        model, prec, source = b["label"].split()
        rows[(model, int(b["batch"]), prec, source)] = ms(b)
    torch = {}
    for r in (torch_doc or {}).get("results", []):
        torch[(r["model"], r["batch"], r["precision"])] = r["ms"]
    if not rows:
        return ["model latency: no results (bench_models did not run or every case failed)"]
    out = ["whole-model latency, ms (CUDA graph launch; vendor = cuDNN/cuBLAS where they cover a node)",
           f"{'model':14s} {'batch':>5s} {'ours fp32':>10s} {'vendor':>10s} {'ours/vnd':>9s} {'ours fp16':>10s}"
           f" {'ours bf16':>10s} {'torch fp32':>10s} {'torch fp16':>10s}"]
    keys = sorted({(m, b) for (m, b, _, _) in rows})
    fmt = lambda v: f"{v:10.3f}" if v is not None else f"{'-':>10s}"
    for m, b in keys:
        o32 = rows.get((m, b, "fp32", "ours"))
        v32 = rows.get((m, b, "fp32", "vendor"))
        ratio = f"{o32 / v32:9.2f}" if o32 and v32 else f"{'-':>9s}"
        out.append(f"{m:14s} {b:5d} {fmt(o32)} {fmt(v32)} {ratio} {fmt(rows.get((m, b, 'fp16', 'ours')))}"
                   f" {fmt(rows.get((m, b, 'bf16', 'ours')))} {fmt(torch.get((m, b, 'fp32')))} {fmt(torch.get((m, b, 'fp16')))}")
    return out


def profile_table(doc):
    pts = {}
    for b in doc.get("benchmarks", []):
        if b["name"].startswith("model/profile") and not b.get("error_occurred"):
            pts[(b["label"].split()[0], int(b["batch"]), int(b["sms"]))] = ms(b)
    if not pts:
        return []
    sms = sorted({s for (_, _, s) in pts})
    out = ["profile (ours, fp32), ms by partition SMs", f"{'model':14s} {'batch':>5s} " + " ".join(f"{s:>8d}" for s in sms)]
    for m, b in sorted({(m, b) for (m, b, _) in pts}):
        out.append(f"{m:14s} {b:5d} " + " ".join(f"{pts[(m, b, s)]:8.3f}" if (m, b, s) in pts else f"{'-':>8s}" for s in sms))
    return out


def partitions_table(doc):
    out = []
    for b in (doc or {}).get("benchmarks", []):
        if b.get("error_occurred") or b.get("run_type") == "aggregate":
            continue
        if b["name"].startswith(("BM_ResizeBySwitchingHeldLayouts", "BM_HoldNewLayout", "BM_CreatePartitionFromScratch")):
            out.append(f"  {b['name']:44s} {ms(b) * 1e3:10.1f} us")
    return (["partition re-size cost (launch-and-wait included)"] + out) if out else []


def kernels_table(doc):
    ratios = []
    for b in (doc or {}).get("benchmarks", []):
        r = b.get("ours_over_vendor")
        if r and not b.get("error_occurred") and r > 0:
            ratios.append((b["name"], r))
    if not ratios:
        return []
    geo = math.exp(sum(math.log(r) for _, r in ratios) / len(ratios))
    worst = max(ratios, key=lambda x: x[1])
    best = min(ratios, key=lambda x: x[1])
    return [f"kernels vs cuDNN/cuBLAS: {len(ratios)} cases, ours/vendor time geometric mean {geo:.2f}"
            f" (best {best[1]:.2f} {best[0]}, worst {worst[1]:.2f} {worst[0]})"]


def main():
    d = sys.argv[1]
    lines = []
    bm = load(os.path.join(d, "bench_models.json"))
    if bm:
        lines += models_table(bm, load(os.path.join(d, "torch_baseline.json")))
        lines += profile_table(bm)
    lines += partitions_table(load(os.path.join(d, "bench_partitions.json")))
    lines += kernels_table(load(os.path.join(d, "bench_kernels.json")))
    print("\n".join(lines) if lines else "no benchmark results to summarize")


if __name__ == "__main__":
    main()
