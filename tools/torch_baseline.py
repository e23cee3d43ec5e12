#!/usr/bin/env python3
"""PyTorch eager latency of the zoo's torchvision models on this GPU: the framework baseline that
gpu-check puts next to dstack's numbers (bench_models). Runs only where this Python has torch and
torchvision with CUDA; otherwise it says why and exits 3 (gpu-check records the step as skipped).

fp32 runs with TF32 disabled (dstack's fp32 kernels and the vendor backend compute true fp32);
fp16/bf16 cast model and input. Each point: CUDA events around one forward, median of 30 after 10
warm-up runs, under torch.inference_mode(). Writes JSON (--out) with provenance.
"""
import argparse
import json
import statistics
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--models", default="resnet50,mobilenet_v2,inception_v3")
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--precisions", default="fp32,fp16,bf16")
    ap.add_argument("--iters", type=int, default=30)
    args = ap.parse_args()
    try:
        import torch
        import torchvision
    except ImportError as e:
        print(f"torch_baseline: skipped: {e} (this Python: {sys.executable})", file=sys.stderr)
        return 3
    if not torch.cuda.is_available():
        print("torch_baseline: skipped: torch sees no CUDA device", file=sys.stderr)
        return 3
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    dtypes = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
    sizes = {"inception_v3": 299}
    results = []
    for name in args.models.split(","):
        kwargs = {"weights": None}
        if name == "inception_v3":
            kwargs.update(aux_logits=False, init_weights=False)
        net = getattr(torchvision.models, name)(**kwargs).eval().cuda()
        for prec in args.precisions.split(","):
            model = net.to(dtypes[prec])
            for batch in (int(b) for b in args.batches.split(",")):
                side = sizes.get(name, 224)
                x = torch.randn(batch, 3, side, side, device="cuda", dtype=dtypes[prec])
                times = []
                with torch.inference_mode():
                    for i in range(10 + args.iters):
                        start = torch.cuda.Event(enable_timing=True)
                        stop = torch.cuda.Event(enable_timing=True)
                        start.record()
                        model(x)
                        stop.record()
                        stop.synchronize()
                        if i >= 10:
                            times.append(start.elapsed_time(stop))
                ms = statistics.median(times)
                results.append({"model": name, "batch": batch, "precision": prec, "ms": ms})
                print(f"{name:14s} batch {batch:3d} {prec}: {ms:8.3f} ms (PyTorch eager)")
    doc = {
        "what": "PyTorch eager forward latency, CUDA events, median",
        "gpu": torch.cuda.get_device_name(0),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "cudnn": torch.backends.cudnn.version(),
        "tf32": False,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "results": results,
    }
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
