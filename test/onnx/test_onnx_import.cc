// ONNX import against PyTorch: each fixture is a model exported by tools/make_onnx_fixtures.py with
// the input it was fed and the output PyTorch computed; the imported graph, run by the CPU
// reference executor, must reproduce it (relative L2 error < 1e-4) at the exported batch (2) and at
// batches 1 and 3, since every export declares a dynamic batch. Malformed models must fail with one
// message that names the file, the node, the op and the problem.
//
// The torchvision models (tens of MB) are not committed: the first run exports them into the build
// folder by calling the fixture script with DSTACK_TORCH_PYTHON (std::system), and skips when that
// python cannot import torch, torchvision and onnx.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "models/onnx/onnx_import.h"
#include "models/zoo.h"
#include "runtime/backend/cpu/cpu_executor.h"
#include "runtime/core/npy.h"

namespace {

namespace fs = std::filesystem;
using dstack::models::Model;
using dstack::models::OnnxError;
using dstack::models::OpKind;
using dstack::models::Tensor;

const fs::path kFixtures = DSTACK_ONNX_FIXTURES;
const fs::path kGenerated = DSTACK_ONNX_GENERATED;

Tensor read_tensor(const fs::path& path) {
  dstack::NpyArray a = dstack::read_npy(path.string());
  return Tensor{a.shape, std::move(a.data)};
}

// The samples `rows` of a batch-first tensor, in that order (repeats allowed).
Tensor take_batch(const Tensor& t, const std::vector<int64_t>& rows) {
  const auto per_sample = static_cast<int64_t>(t.data.size()) / t.shape[0];
  Tensor out{t.shape, {}};
  out.shape[0] = static_cast<int64_t>(rows.size());
  for (int64_t r : rows)
    out.data.insert(out.data.end(), t.data.begin() + r * per_sample, t.data.begin() + (r + 1) * per_sample);
  return out;
}

double relative_l2(const std::vector<float>& got, const std::vector<float>& want) {
  double diff = 0, norm = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    diff += (double{got[i]} - want[i]) * (double{got[i]} - want[i]);
    norm += double{want[i]} * want[i];
  }
  return std::sqrt(diff / std::max(norm, 1e-30));
}

// Loads case `dir` and checks it against PyTorch's (or NumPy's) output at the exported batch (2:
// samples 0, 1), at batch 1 (sample 1) and at batch 3 (samples 1, 0, 1).
Model check_against_pytorch(const fs::path& dir) {
  Model model = dstack::models::load_onnx((dir / "model.onnx").string());
  EXPECT_EQ(model.source, (dir / "model.onnx").string());
  EXPECT_EQ(model.graph.inputs().size(), 1u);
  EXPECT_EQ(model.graph.outputs().size(), 1u);
  const Tensor input = read_tensor(dir / "input.npy"), expected = read_tensor(dir / "expected.npy");
  for (const std::vector<int64_t>& rows : std::vector<std::vector<int64_t>>{{0, 1}, {1}, {1, 0, 1}}) {
    const Tensor want = take_batch(expected, rows);
    std::vector<Tensor> out = dstack::run_cpu(model.graph, {take_batch(input, rows)});
    EXPECT_EQ(out.size(), 1u);
    EXPECT_EQ(out.at(0).shape, want.shape) << dir << " at batch " << rows.size();
    if (out[0].data.size() != want.data.size()) continue;
    const double err = relative_l2(out[0].data, want.data);
    std::printf("  %s at batch %zu: relative L2 error %.2e\n", dir.filename().c_str(), rows.size(), err);
    EXPECT_LT(err, 1e-4) << dir << " at batch " << rows.size();
  }
  return model;
}

int count_nodes(const Model& m, OpKind op) {
  int n = 0;
  for (const auto& node : m.graph.nodes()) n += node.op == op;
  return n;
}

// ---- committed fixtures ------------------------------------------------------------------------

TEST(OnnxImport, TinyCnnMatchesPyTorch) {
  Model m = check_against_pytorch(kFixtures / "tiny_cnn");
  // Initializer floats less the BN running statistics (7874 - 160), as torch counts parameters.
  EXPECT_EQ(m.param_count, 7714);
  // Five of the six convolutions absorb their batch-norm; post_bn follows a pool: a ChannelAffine.
  EXPECT_EQ(count_nodes(m, OpKind::Conv2d), 6);
  EXPECT_EQ(count_nodes(m, OpKind::ChannelAffine), 1);
  EXPECT_EQ(count_nodes(m, OpKind::Binary), 0) << "the residual Add should be the conv's residual input";
  EXPECT_EQ(count_nodes(m, OpKind::Unary), 0) << "every Relu / Clip should be an epilogue";
  bool residual_with_relu = false;
  for (const auto& node : m.graph.nodes())
    if (node.op == OpKind::Conv2d && node.inputs.size() == 4)
      residual_with_relu = node.attrs.act.kind == dstack::models::Activation::Relu;
  EXPECT_TRUE(residual_with_relu);
}

TEST(OnnxImport, TinyTransformerOpset13MatchesPyTorch) {
  Model m = check_against_pytorch(kFixtures / "tiny_transformer_opset13");
  EXPECT_EQ(m.param_count, 10565);
  EXPECT_EQ(count_nodes(m, OpKind::Embedding), 1);
  EXPECT_EQ(count_nodes(m, OpKind::LayerNorm), 0) << "opset 13 exports LayerNorm decomposed";
  EXPECT_EQ(count_nodes(m, OpKind::MatMul), 2);  // q k^T (with the 1/sqrt(d) as alpha) and att v
}

TEST(OnnxImport, TinyTransformerOpset17MatchesPyTorch) {
  Model m = check_against_pytorch(kFixtures / "tiny_transformer_opset17");
  EXPECT_EQ(count_nodes(m, OpKind::LayerNorm), 2);
  EXPECT_EQ(count_nodes(m, OpKind::Softmax), 1);
}

TEST(OnnxImport, MiscOpsOpset11MatchesPyTorch) { check_against_pytorch(kFixtures / "misc_ops_opset11"); }

TEST(OnnxImport, MiscOpsOpset13MatchesPyTorch) {
  Model m = check_against_pytorch(kFixtures / "misc_ops_opset13");
  EXPECT_EQ(count_nodes(m, OpKind::ChannelAffine), 1) << "the BN whose conv output has two users";
}

std::string param_name(const ::testing::TestParamInfo<const char*>& p) { return p.param; }

// Op forms the models above do not reach (see make_edge_cases in the script), plus a model exported
// with a fixed batch of 2 that must still run at batches 1 and 3.
class EdgeCase : public ::testing::TestWithParam<const char*> {};

TEST_P(EdgeCase, MatchesReference) { check_against_pytorch(kFixtures / GetParam()); }

INSTANTIATE_TEST_SUITE_P(Fixtures, EdgeCase,
                         ::testing::Values("edge_static_batch_transformer", "edge_layernorm_two_axes",
                                           "edge_softmax_opset11_axis1", "edge_gemm_transb0_scalar_c",
                                           "edge_split_even", "edge_gather_negative_index", "edge_matmul_vector",
                                           "edge_clip_min_only", "edge_unsqueeze_slice_negative",
                                           "edge_squeeze_no_axes", "edge_maxpool_valid"),
                         param_name);

// ---- malformed models --------------------------------------------------------------------------

// The message load_onnx throws for `path`, checked to be one line naming the file.
std::string load_error(const fs::path& path) {
  try {
    dstack::models::load_onnx(path.string());
  } catch (const OnnxError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find(path.string()), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    return msg;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw a non-OnnxError: " << e.what();
    return {};
  }
  ADD_FAILURE() << path << " loaded without error";
  return {};
}

#define EXPECT_HAS(msg, part) EXPECT_NE((msg).find(part), std::string::npos) << "'" << (part) << "' not in: " << (msg)

fs::path scratch_dir() {
  fs::path dir = kGenerated / "malformed";
  fs::create_directories(dir);
  return dir;
}

TEST(OnnxImportErrors, TruncatedFile) {
  const fs::path good = kFixtures / "tiny_cnn" / "model.onnx";
  const fs::path bad = scratch_dir() / "truncated.onnx";
  std::ifstream in(good, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GT(bytes.size(), 1000u);
  std::ofstream(bad, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size() / 2));
  const std::string msg = load_error(bad);
  EXPECT_HAS(msg, "not a valid ONNX model");
  EXPECT_HAS(msg, "truncated");
}

TEST(OnnxImportErrors, EmptyAndMissingFiles) {
  const fs::path empty = scratch_dir() / "empty.onnx";
  std::ofstream(empty).close();
  EXPECT_HAS(load_error(empty), "no graph");
  EXPECT_HAS(load_error(scratch_dir() / "does_not_exist.onnx"), "cannot open");
}

TEST(OnnxImportErrors, UnsupportedOp) {
  const std::string msg = load_error(kFixtures / "malformed" / "unsupported_op.onnx");
  EXPECT_HAS(msg, "node #1 'hardmax_1' (Hardmax)");
  EXPECT_HAS(msg, "unsupported op 'Hardmax'");
  EXPECT_HAS(msg, "supported ops: Add, AveragePool");
}

TEST(OnnxImportErrors, ConvWithSameUpperPadding) {
  const std::string msg = load_error(kFixtures / "malformed" / "conv_same_upper.onnx");
  EXPECT_HAS(msg, "'conv_same' (Conv)");
  EXPECT_HAS(msg, "unsupported attribute auto_pad=SAME_UPPER");
  EXPECT_HAS(msg, "NOTSET");
}

TEST(OnnxImportErrors, ReshapeShapeMismatch) {
  const std::string msg = load_error(kFixtures / "malformed" / "reshape_mismatch.onnx");
  EXPECT_HAS(msg, "'reshape_bad' (Reshape)");
  EXPECT_HAS(msg, "cannot reshape [B, 2, 4, 4] to [0, 5, 6]");
  EXPECT_HAS(msg, "32 elements per sample, the target has 30");
}

TEST(OnnxImportErrors, DanglingInput) {
  const std::string msg = load_error(kFixtures / "malformed" / "dangling_input.onnx");
  EXPECT_HAS(msg, "node #1 'add_ghost' (Add)");
  EXPECT_HAS(msg, "input 'ghost' is not produced");
}

TEST(OnnxImportErrors, MissingInitializer) {
  const std::string msg = load_error(kFixtures / "malformed" / "missing_initializer.onnx");
  EXPECT_HAS(msg, "'conv_nowt' (Conv)");
  EXPECT_HAS(msg, "'w_missing'");
  EXPECT_HAS(msg, "missing initializer");
}

TEST(OnnxImportErrors, BroadcastMismatch) {
  const std::string msg = load_error(kFixtures / "malformed" / "broadcast_mismatch.onnx");
  EXPECT_HAS(msg, "'add_bad' (Add)");
  EXPECT_HAS(msg, "do not broadcast");
}

// Found by fuzz_onnx_import: a ConstantOfShape of [2^20, 2^20] allocated 4 TiB before any check.
TEST(OnnxImportErrors, AbsurdConstantsAreRefusedBeforeAllocation) {
  std::string msg = load_error(kFixtures / "malformed" / "constant_of_shape_huge.onnx");
  EXPECT_HAS(msg, "'zeros_huge' (ConstantOfShape)");
  EXPECT_HAS(msg, "the shape [1048576, 1048576] has more than 67108864 elements");
  msg = load_error(kFixtures / "malformed" / "range_huge.onnx");
  EXPECT_HAS(msg, "'range_huge' (Range)");
  EXPECT_HAS(msg, "the range has more than 67108864 elements");
}

// Found by fuzz_onnx_import: int64 shape arithmetic overflowed (undefined behaviour).
TEST(OnnxImportErrors, ShapeArithmeticPastInt64IsRefused) {
  std::string msg = load_error(kFixtures / "malformed" / "int_add_overflow.onnx");
  EXPECT_HAS(msg, "'add_overflow' (Add)");
  EXPECT_HAS(msg, "4611686018427387904 add 4611686018427387904 overflows int64 while loading");
  msg = load_error(kFixtures / "malformed" / "pow_overflow.onnx");
  EXPECT_HAS(msg, "'pow_overflow' (Pow)");
  EXPECT_HAS(msg, "overflows int64 while loading");
}

TEST(OnnxImportErrors, OpsetOutOfRange) {
  const std::string msg = load_error(kFixtures / "malformed" / "old_opset.onnx");
  EXPECT_HAS(msg, "opset 9 is not supported (opsets 11 to 17 are)");
}

// ---- torchvision models, exported on first use ---------------------------------------------------

class TorchvisionOnnx : public ::testing::TestWithParam<const char*> {};

TEST_P(TorchvisionOnnx, MatchesPyTorch) {
  const std::string name = GetParam();
  const fs::path dir = kGenerated / name;
  const fs::path script = DSTACK_ONNX_FIXTURE_SCRIPT;
  const std::string python = DSTACK_TORCH_PYTHON;
  // Regenerate when missing or older than the script that makes it.
  if (!fs::exists(dir / "expected.npy") || fs::last_write_time(dir / "expected.npy") < fs::last_write_time(script)) {
    const std::string probe = "'" + python + "' -c 'import torch, torchvision, onnx' >/dev/null 2>&1";
    if (std::system(probe.c_str()) != 0)
      GTEST_SKIP() << python << " cannot import torch, torchvision and onnx (Debian: python3-torch, "
                   << "python3-torchvision, python3-onnx); set DSTACK_TORCH_PYTHON to one that can";
    fs::create_directories(kGenerated);
    const fs::path log = kGenerated / (name + ".log");
    const std::string cmd = "'" + python + "' '" + script.string() + "' torchvision --model " + name + " --out '" +
                            kGenerated.string() + "' >'" + log.string() + "' 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << "exporting " << name << " failed; see " << log;
  }
  Model m = check_against_pytorch(dir);
  // Batch-norm running statistics left out, the count is torchvision's, as the zoo's is.
  EXPECT_EQ(m.param_count, dstack::models::build_zoo_model(name, {.seed = 1, .weights = false}).param_count);
  EXPECT_EQ(count_nodes(m, OpKind::ChannelAffine), 0) << "every batch-norm follows a conv and should fold";
  EXPECT_EQ(count_nodes(m, OpKind::Binary), 0) << "every residual Add should be a conv's residual input";
  EXPECT_EQ(count_nodes(m, OpKind::Unary), 0) << "every Relu / Relu6 should be an epilogue";
}

INSTANTIATE_TEST_SUITE_P(Models, TorchvisionOnnx, ::testing::Values("resnet18", "mobilenet_v2"),
                         param_name);

}  // namespace
