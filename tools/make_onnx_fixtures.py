#!/usr/bin/python3
"""Makes the ONNX fixtures of test/onnx: models exported from PyTorch with fixed seeds, the input
each is fed and the output PyTorch computes for it.

Run with the system python (Debian's python3-torch, python3-torchvision, python3-onnx):

  /usr/bin/python3 tools/make_onnx_fixtures.py tiny [--out test/onnx/fixtures]
      The small, committed cases (a few hundred KB in all) and the malformed models.
  /usr/bin/python3 tools/make_onnx_fixtures.py malformed [--out test/onnx/fixtures]
      The malformed models only.
  /usr/bin/python3 tools/make_onnx_fixtures.py torchvision --model resnet18 --out DIR
      A torchvision model with seeded random weights (tens of MB: generated into the build folder
      at test time, never committed).

Each case is a folder: model.onnx, input.npy (batch 2), expected.npy. Every export but
edge_static_batch_transformer has a dynamic batch axis, so the importer must honour it; that one
has the batch fixed at 2 (written into its Reshape targets), which the importer generalises. Batch-norm is exported unfolded
(TrainingMode.PRESERVE on a model in eval mode) with random running statistics, so the importer's
folding is what gets tested; PyTorch's own eval export would fold it away.
"""
import argparse
import inspect
import math
import os
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

BATCH = 2


def randomize_norms(model, gen):
    """Random affine and running statistics for every norm layer: with the defaults (1, 0, 0, 1)
    folding is the identity and a wrong fold would go unnoticed."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.weight.copy_(torch.rand(m.weight.shape, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.1)
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)
            elif isinstance(m, nn.LayerNorm):
                m.weight.copy_(torch.rand(m.weight.shape, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.1)


# ---- the tiny, committed models ------------------------------------------------------------------

class TinyCnn(nn.Module):
    """Conv+BN+ReLU, depthwise conv + ReLU6, grouped conv, a residual block, max pool with ceil_mode,
    average pool with padding, an unfoldable batch-norm, global pool, flatten, linear."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU())
        self.dw = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False), nn.BatchNorm2d(8), nn.ReLU6())
        self.grouped = nn.Sequential(nn.Conv2d(8, 16, 1, groups=2), nn.BatchNorm2d(16))
        self.res1 = nn.Sequential(nn.Conv2d(16, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        self.res2 = nn.Sequential(nn.Conv2d(16, 16, 3, padding=2, dilation=2, bias=False), nn.BatchNorm2d(16))
        self.maxpool = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.avgpool = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)
        self.avgpool_incl = nn.AvgPool2d(2, stride=1, padding=1, count_include_pad=True)
        self.post_bn = nn.BatchNorm2d(16)  # follows a pool: not foldable, a per-channel affine
        self.strided = nn.Conv2d(16, 24, (3, 2), stride=(2, 1), padding=(1, 0))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(24, 10)

    def forward(self, x):
        x = self.grouped(self.dw(self.stem(x)))
        x = F.relu(self.res2(self.res1(x)) + x)
        x = self.avgpool(self.maxpool(x))
        x = F.relu(self.post_bn(self.avgpool_incl(x)))
        x = self.strided(x)
        return self.fc(torch.flatten(self.pool(x), 1))


class TinyEncoder(nn.Module):
    """One transformer encoder layer written out by hand, so the export shows the pieces: token
    embedding (Gather), a learned position table, fused QKV projection split with chunk (Slice with
    shape arithmetic), Reshape with the batch taken from Shape (dynamic), Transpose, MatMul,
    Softmax, LayerNorm (decomposed before opset 17), GELU via erf, mean pooling, a classifier."""

    def __init__(self, vocab=50, seq=8, dim=32, heads=4, ff=64, classes=5):
        super().__init__()
        self.heads = heads
        self.tok = nn.Embedding(vocab, dim)
        self.pos = nn.Parameter(torch.randn(seq, dim) * 0.1)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.ln1 = nn.LayerNorm(dim)
        self.ff1 = nn.Linear(dim, ff)
        self.ff2 = nn.Linear(ff, dim)
        self.ln2 = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, ids):
        x = self.tok(ids) + self.pos
        b, s, d = x.shape
        dh = d // self.heads
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        q = q.reshape(b, s, self.heads, dh).transpose(1, 2)
        k = k.reshape(b, s, self.heads, dh).transpose(1, 2)
        v = v.reshape(b, s, self.heads, dh).transpose(1, 2)
        att = ((q @ k.transpose(-2, -1)) / math.sqrt(dh)).softmax(-1)
        o = (att @ v).transpose(1, 2).reshape(b, s, d)
        x = self.ln1(x + self.proj(o))
        x = self.ln2(x + self.ff2(F.gelu(self.ff1(x))))
        return self.head(x.mean(dim=1))


class MiscOps(nn.Module):
    """The ops the two networks above do not reach: Pad, an unfoldable BN (conv output used twice),
    Sigmoid/Tanh/Clip, Split, Concat, strided Slice, Gather of one channel, Softmax over a non-last
    axis, ReduceMean over two axes, Pow/Sqrt/Sub/Div, Unsqueeze/Squeeze, Transpose, Reshape with
    x.size(0), Gemm with transB=0 and alpha/beta (addmm), Gemm with transB=1 (Linear) + ReLU."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        gen = torch.Generator().manual_seed(7)
        self.w = nn.Parameter(torch.randn(4 * 7 * 7, 6, generator=gen) * 0.1)
        self.b = nn.Parameter(torch.randn(6, generator=gen))
        self.fc = nn.Linear(4 * 7 * 7 + 7 * 7 + 4 + 4 * 7 * 7 + 4 * 3 * 7, 8)

    def forward(self, x):
        x = F.pad(x, (1, 0, 0, 1), value=0.5)                        # [B, 4, 7, 7]
        c = self.conv(x)
        y = self.bn(c) + c                                            # BN can't fold: c has 2 users
        y = torch.sigmoid(y) + torch.tanh(y) + F.hardtanh(y, -0.5, 0.75)
        a, b = torch.split(y, [1, 3], dim=1)
        z = torch.cat([b, a * 2.0], dim=1)                           # [B, 4, 7, 7]
        s = z[:, :, 1:6:2, :]                                         # [B, 4, 3, 7]
        g = z[:, 2]                                                   # [B, 7, 7]
        sm = torch.softmax(z, dim=1)                                  # non-last axis
        m = z.mean(dim=(2, 3), keepdim=True)                          # [B, 4, 1, 1]
        p = torch.sqrt(z * z + 1.0) - (z ** 2) / (m * m + 1.0)
        u = g.unsqueeze(1).permute(0, 2, 3, 1).squeeze(3)             # [B, 7, 7]
        t = sm.permute(0, 2, 3, 1)                                    # [B, 7, 7, 4]
        flat = p.reshape(p.size(0), -1)                               # Reshape from Shape
        gemm = torch.addmm(self.b, flat, self.w, beta=0.5, alpha=2.0)  # Gemm transB=0
        feats = torch.cat([flat, u.flatten(1), m.flatten(1), t.flatten(1), s.flatten(1)], dim=1)
        return torch.cat([F.relu(self.fc(feats)), gemm], dim=1)


def export(model, example, path, opset, preserve_bn=False, dynamic_batch=True):
    kwargs = {}
    if dynamic_batch:
        kwargs["dynamic_axes"] = {"input": {0: "batch"}, "output": {0: "batch"}}
    if preserve_bn:
        kwargs["training"] = torch.onnx.TrainingMode.PRESERVE
        kwargs["do_constant_folding"] = False
    # Newer torch (2.9 on the GPU machine) defaults to the dynamo exporter, which ignores opset_version
    # below 18 and writes opset 18: ask for the TorchScript exporter, which honours the opset.
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kwargs["dynamo"] = False
    torch.onnx.export(model, example, path, opset_version=opset, input_names=["input"], output_names=["output"], **kwargs)


def write_case(out_dir, name, model, example, opset, preserve_bn, dynamic_batch=True):
    """Exports `model` to out_dir/name/ with its input and PyTorch's output; atomically (a temp
    folder renamed into place) so parallel test runs never see half a case."""
    model.eval()
    with torch.no_grad():
        expected = model(example)
    final = os.path.join(out_dir, name)
    os.makedirs(out_dir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{name}.", dir=out_dir)
    os.chmod(tmp, 0o755)
    export(model, example, os.path.join(tmp, "model.onnx"), opset, preserve_bn, dynamic_batch)
    np.save(os.path.join(tmp, "input.npy"), example.numpy())
    np.save(os.path.join(tmp, "expected.npy"), expected.numpy().astype(np.float32))
    if os.path.isdir(final):
        for f in os.listdir(final):
            os.remove(os.path.join(final, f))
        os.rmdir(final)
    os.rename(tmp, final)
    print(f"wrote {final} (opset {opset})")


def seeded(seed):
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed + 1)


def make_tiny(out_dir):
    gen = seeded(1)
    cnn = TinyCnn()
    randomize_norms(cnn, gen)
    write_case(out_dir, "tiny_cnn", cnn, torch.randn(BATCH, 3, 20, 20, generator=gen), 13, preserve_bn=True)

    for opset in (13, 17):
        gen = seeded(2)
        enc = TinyEncoder()
        randomize_norms(enc, gen)
        ids = torch.randint(0, 50, (BATCH, 8), generator=gen)
        write_case(out_dir, f"tiny_transformer_opset{opset}", enc, ids, opset, preserve_bn=False)

    for opset in (11, 13):
        gen = seeded(3)
        misc = MiscOps()
        randomize_norms(misc, gen)
        write_case(out_dir, f"misc_ops_opset{opset}", misc, torch.randn(BATCH, 4, 6, 6, generator=gen), opset,
                   preserve_bn=True)

    gen = seeded(4)
    enc = TinyEncoder()
    randomize_norms(enc, gen)
    write_case(out_dir, "edge_static_batch_transformer", enc, torch.randint(0, 50, (BATCH, 8), generator=gen), 13,
               preserve_bn=False, dynamic_batch=False)
    gen = seeded(5)
    ln = LayerNormTwoAxes()
    randomize_norms(ln, gen)
    write_case(out_dir, "edge_layernorm_two_axes", ln, torch.randn(BATCH, 3, 4, 8, generator=gen), 17, preserve_bn=False)

    make_edge_cases(out_dir)
    make_malformed(os.path.join(out_dir, "malformed"))


class LayerNormTwoAxes(nn.Module):
    """LayerNormalization over the last two axes (axis=-2 at opset 17)."""

    def __init__(self):
        super().__init__()
        self.ln = nn.LayerNorm((4, 8))

    def forward(self, x):
        return self.ln(x)


# ---- edge cases, made with onnx.helper, with NumPy's answer ------------------------------------------

def make_edge_cases(out_dir):
    """Op forms PyTorch does not emit for the models above: opset-11 Softmax (flattening semantics),
    Gemm with transB=0 and a scalar C, Split without sizes, Gather with a negative scalar index,
    Squeeze without axes, MaxPool with auto_pad=VALID, MatMul by a vector, Clip without max,
    Unsqueeze then Slice with negative bounds."""
    import onnx
    from onnx import TensorProto, helper

    rng = np.random.default_rng(6)

    def case(name, nodes, x, expected, inits=(), opset=13):
        graph = helper.make_graph(
            nodes, name, [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch"] + list(x.shape[1:]))],
            [helper.make_tensor_value_info("output", TensorProto.FLOAT, None)], initializer=list(inits))
        d = os.path.join(out_dir, name)
        os.makedirs(d, exist_ok=True)
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]), os.path.join(d, "model.onnx"))
        np.save(os.path.join(d, "input.npy"), x.astype(np.float32))
        np.save(os.path.join(d, "expected.npy"), np.asarray(expected, np.float32))
        print(f"wrote {d} (opset {opset})")

    def const(name, array, dtype=TensorProto.FLOAT):
        array = np.asarray(array)
        return helper.make_tensor(name, dtype, array.shape, array.flatten().tolist())

    def i64(name, values):
        return const(name, np.asarray(values, np.int64), TensorProto.INT64)

    x = rng.standard_normal((BATCH, 3, 4)).astype(np.float32)
    flat = x.reshape(BATCH, 12)
    e = np.exp(flat - flat.max(1, keepdims=True))
    case("edge_softmax_opset11_axis1", [helper.make_node("Softmax", ["input"], ["output"], axis=1)], x,
         (e / e.sum(1, keepdims=True)).reshape(x.shape), opset=11)

    x = rng.standard_normal((BATCH, 5)).astype(np.float32)
    w = rng.standard_normal((5, 3)).astype(np.float32)
    case("edge_gemm_transb0_scalar_c", [helper.make_node("Gemm", ["input", "W", "C"], ["output"], alpha=0.5, beta=2.0)],
         x, 0.5 * x @ w + 2.0 * 0.3, [const("W", w), const("C", np.float32(0.3))])

    x = rng.standard_normal((BATCH, 3, 6)).astype(np.float32)
    case("edge_split_even", [helper.make_node("Split", ["input"], ["a", "b", "c"], axis=2),
                             helper.make_node("Sub", ["c", "a"], ["output"])], x, x[:, :, 4:] - x[:, :, :2])
    case("edge_gather_negative_index", [helper.make_node("Gather", ["input", "i"], ["output"], axis=-1)], x,
         x[:, :, -2], [i64("i", -2)])
    case("edge_matmul_vector", [helper.make_node("MatMul", ["input", "v"], ["output"])], x,
         x @ np.arange(6, dtype=np.float32), [const("v", np.arange(6, dtype=np.float32))])
    case("edge_clip_min_only", [helper.make_node("Clip", ["input", "lo"], ["output"])], x, np.maximum(x, -0.5),
         [const("lo", np.float32(-0.5))])
    case("edge_unsqueeze_slice_negative",
         [helper.make_node("Unsqueeze", ["input", "axes"], ["u"]),
          helper.make_node("Slice", ["u", "starts", "ends", "slice_axes"], ["output"])],
         x, x[:, None, :, -3:-1], [i64("axes", [1]), i64("starts", [-3]), i64("ends", [-1]), i64("slice_axes", [-1])])

    x = rng.standard_normal((BATCH, 1, 3, 1)).astype(np.float32)
    case("edge_squeeze_no_axes", [helper.make_node("Squeeze", ["input"], ["output"])], x, x.reshape(BATCH, 3))

    x = rng.standard_normal((BATCH, 2, 5, 5)).astype(np.float32)
    pooled = x[:, :, :4, :4].reshape(BATCH, 2, 2, 2, 2, 2).max(axis=(3, 5))
    case("edge_maxpool_valid", [helper.make_node("MaxPool", ["input"], ["output"], kernel_shape=[2, 2], strides=[2, 2],
                                                 auto_pad="VALID")], x, pooled)


# ---- malformed models, made with onnx.helper --------------------------------------------------------

def make_malformed(out_dir):
    """Small models the importer must refuse with a message naming the node, op and problem. The
    truncated-file case is made by the test itself from a good model."""
    import onnx
    from onnx import TensorProto, helper

    os.makedirs(out_dir, exist_ok=True)

    def save(name, nodes, inputs, outputs, inits=(), opset=13):
        graph = helper.make_graph(nodes, name, inputs, outputs, initializer=list(inits))
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
        onnx.save(model, os.path.join(out_dir, f"{name}.onnx"))
        print(f"wrote {out_dir}/{name}.onnx")

    def tensor(name, shape):
        return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)

    def const(name, array, dtype=TensorProto.FLOAT):
        array = np.asarray(array)
        return helper.make_tensor(name, dtype, array.shape, array.flatten().tolist())

    x4 = tensor("x", ["batch", 2, 4, 4])
    w = const("w", np.ones((2, 2, 3, 3), np.float32))

    save("unsupported_op",
         [helper.make_node("Relu", ["x"], ["r"], name="relu_0"),
          helper.make_node("Hardmax", ["r"], ["y"], name="hardmax_1", axis=-1)],
         [x4], [tensor("y", ["batch", 2, 4, 4])])
    save("conv_same_upper",
         [helper.make_node("Conv", ["x", "w"], ["y"], name="conv_same", auto_pad="SAME_UPPER", kernel_shape=[3, 3])],
         [x4], [tensor("y", ["batch", 2, 4, 4])], [w])
    save("reshape_mismatch",
         [helper.make_node("Reshape", ["x", "shape"], ["y"], name="reshape_bad")],
         [x4], [tensor("y", ["batch", 5, 6])], [const("shape", np.array([0, 5, 6], np.int64), TensorProto.INT64)])
    save("dangling_input",
         [helper.make_node("Relu", ["x"], ["r"], name="relu_0"),
          helper.make_node("Add", ["r", "ghost"], ["y"], name="add_ghost")],
         [x4], [tensor("y", ["batch", 2, 4, 4])])
    save("missing_initializer",
         [helper.make_node("Conv", ["x", "w_missing"], ["y"], name="conv_nowt", kernel_shape=[3, 3])],
         [x4], [tensor("y", ["batch", 2, 2, 2])])
    save("broadcast_mismatch",
         [helper.make_node("Add", ["x", "c"], ["y"], name="add_bad")],
         [x4], [tensor("y", ["batch", 2, 4, 4])], [const("c", np.ones(3, np.float32))])
    save("old_opset",
         [helper.make_node("Relu", ["x"], ["y"], name="relu_0")],
         [x4], [tensor("y", ["batch", 2, 4, 4])], opset=9)
    # Constants evaluated while loading whose size is absurd: refused before they are allocated.
    save("constant_of_shape_huge",
         [helper.make_node("ConstantOfShape", ["shape"], ["c"], name="zeros_huge"),
          helper.make_node("Add", ["x", "c"], ["y"], name="add_0")],
         [x4], [tensor("y", ["batch", 2, 4, 4])],
         [const("shape", np.array([1 << 20, 1 << 20], np.int64), TensorProto.INT64)])
    save("range_huge",
         [helper.make_node("Range", ["start", "limit", "delta"], ["r"], name="range_huge"),
          helper.make_node("Relu", ["x"], ["y"], name="relu_0")],
         [x4], [tensor("y", ["batch", 2, 4, 4])],
         [const("start", np.array(0, np.int64), TensorProto.INT64),
          const("limit", np.array(1 << 40, np.int64), TensorProto.INT64),
          const("delta", np.array(1, np.int64), TensorProto.INT64)])
    # Shape arithmetic past int64 (undefined behaviour if computed naively), and a power that a
    # naive loop would take 2^62 steps over.
    big = const("big", np.array([1 << 62], np.int64), TensorProto.INT64)
    save("int_add_overflow",
         [helper.make_node("Add", ["big", "big"], ["s"], name="add_overflow"),
          helper.make_node("Reshape", ["x", "s"], ["y"], name="reshape_0")],
         [x4], [tensor("y", ["batch", 2, 4, 4])], [big])
    save("pow_overflow",
         [helper.make_node("Pow", ["two", "big"], ["p"], name="pow_overflow"),
          helper.make_node("Reshape", ["x", "p"], ["y"], name="reshape_0")],
         [x4], [tensor("y", ["batch", 2, 4, 4])], [big, const("two", np.array([2], np.int64), TensorProto.INT64)])


# ---- torchvision models (generated at test time, not committed) ------------------------------------

def make_torchvision(out_dir, name, image_size):
    import torchvision

    gen = seeded(10)
    model = getattr(torchvision.models, name)(weights=None)
    randomize_norms(model, gen)
    example = torch.randn(BATCH, 3, image_size, image_size, generator=gen)
    write_case(out_dir, name, model, example, 13, preserve_bn=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["tiny", "malformed", "torchvision"])
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "test", "onnx", "fixtures"))
    parser.add_argument("--model", choices=["resnet18", "mobilenet_v2"], help="torchvision model")
    parser.add_argument("--image-size", type=int, default=112)
    args = parser.parse_args()
    torch.set_num_threads(1)  # reproducible reductions
    if args.what == "tiny":
        make_tiny(args.out)
    elif args.what == "malformed":
        make_malformed(os.path.join(args.out, "malformed"))
    else:
        if not args.model:
            parser.error("torchvision needs --model")
        make_torchvision(args.out, args.model, args.image_size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
