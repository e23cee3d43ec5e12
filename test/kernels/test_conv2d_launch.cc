// The CPU side of the CUDA convolution: which kernel a shape takes, each kernel's launch geometry
// (the grid covers every output exactly once, the tile loads cover every tile element exactly once),
// and the implicit-GEMM gather (conv2d_im2col_offset) against an explicit im2col and against the
// conv2d_ref oracle itself.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include "kernels/conv2d.h"

namespace dstack::kernels {
namespace {

Conv2dShape make_shape(int n, int c, int h, int w, int k, int r, int s) {
  Conv2dShape shape;
  shape.n = n, shape.c = c, shape.h = h, shape.w = w, shape.k = k, shape.r = r, shape.s = s;
  return shape;
}

Conv2dShape pad(Conv2dShape s, int top, int left, int bottom, int right) {
  s.pad_top = top, s.pad_left = left, s.pad_bottom = bottom, s.pad_right = right;
  return s;
}

// Odd shapes for the index math: strides, dilations, asymmetric pads, groups, batches.
std::vector<Conv2dShape> index_shapes() {
  std::vector<Conv2dShape> shapes;
  {
    Conv2dShape s = pad(make_shape(2, 3, 7, 5, 5, 3, 2), 1, 0, 2, 1);
    s.stride_h = 2;
    shapes.push_back(s);
  }
  {
    Conv2dShape s = pad(make_shape(1, 4, 9, 8, 6, 3, 3), 2, 2, 2, 2);
    s.dilation_h = s.dilation_w = 2;
    shapes.push_back(s);
  }
  {
    Conv2dShape s = pad(make_shape(2, 3, 7, 5, 4, 2, 3), 0, 2, 3, 0);
    s.stride_w = 2, s.dilation_h = 2;
    shapes.push_back(s);
  }
  {
    Conv2dShape s = pad(make_shape(3, 6, 7, 6, 9, 3, 3), 1, 1, 1, 1);
    s.groups = 3, s.stride_h = s.stride_w = 2;
    shapes.push_back(s);
  }
  {
    Conv2dShape s = pad(make_shape(1, 4, 9, 7, 4, 3, 2), 2, 0, 1, 1);
    s.groups = 4, s.stride_h = s.stride_w = 2, s.dilation_h = 2;  // depthwise
    shapes.push_back(s);
  }
  {
    Conv2dShape s = pad(make_shape(1, 3, 13, 11, 8, 7, 7), 3, 3, 2, 3);  // stem-like
    s.stride_h = s.stride_w = 2;
    shapes.push_back(s);
  }
  shapes.push_back(make_shape(2, 5, 4, 3, 7, 1, 1));
  shapes.push_back(pad(make_shape(1, 2, 4, 3, 3, 5, 4), 1, 0, 0, 1));  // 1x1 output
  return shapes;
}

// Explicit im2col of one image and group, as x offsets (-1 for zero), straight from the definition:
// row (ci, kr, ks), column (oh, ow) reads x[img, g*cpg + ci, oh*sh - pt + kr*dh, ow*sw - pl + ks*dw].
std::vector<int64_t> explicit_im2col_offsets(const Conv2dShape& s, int img, int g) {
  const int oh_size = s.out_h(), ow_size = s.out_w(), cpg = s.c / s.groups;
  std::vector<int64_t> col;
  for (int ci = 0; ci < cpg; ++ci)
    for (int kr = 0; kr < s.r; ++kr)
      for (int ks = 0; ks < s.s; ++ks)
        for (int oh = 0; oh < oh_size; ++oh)
          for (int ow = 0; ow < ow_size; ++ow) {
            const int ih = oh * s.stride_h - s.pad_top + kr * s.dilation_h;
            const int iw = ow * s.stride_w - s.pad_left + ks * s.dilation_w;
            const bool inside = ih >= 0 && ih < s.h && iw >= 0 && iw < s.w;
            col.push_back(inside ? ((int64_t(img) * s.c + g * cpg + ci) * s.h + ih) * s.w + iw : -1);
          }
  return col;
}

TEST(Conv2dLaunch, Im2colOffsetMatchesExplicitIm2col) {
  for (const Conv2dShape& s : index_shapes()) {
    ASSERT_EQ(conv2d_shape_error(s), nullptr);
    const int64_t plane = int64_t(s.out_h()) * s.out_w();
    const int gemm_k = int(conv2d_gemm_reduction(s));
    ASSERT_EQ(conv2d_gemm_columns(s), s.n * plane);
    int mismatches = 0;
    for (int img = 0; img < s.n; ++img)
      for (int g = 0; g < s.groups; ++g) {
        const std::vector<int64_t> expected = explicit_im2col_offsets(s, img, g);
        ASSERT_EQ(int64_t(expected.size()), gemm_k * plane);
        for (int kk = 0; kk < gemm_k; ++kk)
          for (int64_t p = 0; p < plane; ++p) {
            const int64_t col = img * plane + p;
            if (conv2d_im2col_offset(s, g, kk, col) != expected[size_t(kk * plane + p)] && mismatches++ < 5)
              ADD_FAILURE() << "img " << img << " group " << g << " row " << kk << " col " << col << ": got "
                            << conv2d_im2col_offset(s, g, kk, col) << ", want " << expected[size_t(kk * plane + p)];
          }
      }
    EXPECT_EQ(mismatches, 0);
    // Out-of-range rows, columns and groups read nothing.
    EXPECT_EQ(conv2d_im2col_offset(s, 0, gemm_k, 0), -1);
    EXPECT_EQ(conv2d_im2col_offset(s, 0, -1, 0), -1);
    EXPECT_EQ(conv2d_im2col_offset(s, 0, 0, s.n * plane), -1);
    EXPECT_EQ(conv2d_im2col_offset(s, 0, 0, -1), -1);
    EXPECT_EQ(conv2d_im2col_offset(s, s.groups, 0, 0), -1);
    EXPECT_FALSE(conv2d_gemm_column(s, 0, s.n * plane).valid);
  }
}

// The oracle agrees: with one-hot weights, output channel g*K + kk of conv2d_ref is row kk of group
// g's im2col matrix, so y equals x at conv2d_im2col_offset (exactly: x is made of small integers) and
// 0 where it says padding.
TEST(Conv2dLaunch, Im2colOffsetMatchesConv2dRef) {
  for (Conv2dShape s : index_shapes()) {
    const int gemm_k = int(conv2d_gemm_reduction(s));
    s.k = s.groups * gemm_k;  // K output channels per group, one per im2col row
    ASSERT_EQ(conv2d_shape_error(s), nullptr);
    const int64_t plane = int64_t(s.out_h()) * s.out_w();
    std::vector<float> x(size_t(int64_t(s.n) * s.c * s.h * s.w));
    for (size_t i = 0; i < x.size(); ++i) x[i] = float(i + 1);  // distinct, nonzero, exact in float
    std::vector<float> w(size_t(int64_t(s.k) * gemm_k), 0.f);
    for (int oc = 0; oc < s.k; ++oc) w[size_t(int64_t(oc) * gemm_k + oc % gemm_k)] = 1.f;
    std::vector<float> y(size_t(conv2d_output_count(s)), -1.f);
    conv2d_ref(s, x.data(), w.data(), nullptr, nullptr, {}, y.data());
    int mismatches = 0;
    for (int g = 0; g < s.groups; ++g)
      for (int kk = 0; kk < gemm_k; ++kk)
        for (int64_t col = 0; col < s.n * plane; ++col) {
          const int64_t offset = conv2d_im2col_offset(s, g, kk, col);
          const float want = offset < 0 ? 0.f : x[size_t(offset)];
          const float got = y[size_t(conv2d_output_offset(s, g * gemm_k + kk, col))];
          if (got != want && mismatches++ < 5)
            ADD_FAILURE() << "group " << g << " row " << kk << " col " << col << ": ref " << got << ", gather "
                          << want;
        }
    EXPECT_EQ(mismatches, 0);
  }
}

TEST(Conv2dLaunch, OutputOffsetIsNchw) {
  Conv2dShape s = pad(make_shape(3, 4, 7, 5, 6, 3, 2), 1, 0, 1, 2);
  s.stride_h = 2;
  const int oh_size = s.out_h(), ow_size = s.out_w();
  for (int img = 0; img < s.n; ++img)
    for (int oc = 0; oc < s.k; ++oc)
      for (int oh = 0; oh < oh_size; ++oh)
        for (int ow = 0; ow < ow_size; ++ow) {
          const int64_t col = (int64_t(img) * oh_size + oh) * ow_size + ow;
          EXPECT_EQ(conv2d_output_offset(s, oc, col), ((int64_t(img) * s.k + oc) * oh_size + oh) * ow_size + ow);
        }
}

TEST(Conv2dLaunch, AlgorithmChoice) {
  Conv2dShape dw = make_shape(1, 32, 8, 8, 32, 3, 3);
  dw.groups = 32;
  EXPECT_EQ(conv2d_algorithm(dw), Conv2dAlgorithm::Depthwise);
  EXPECT_EQ(conv2d_launch(dw).kernel, "conv2d_depthwise<float>");
  Conv2dShape multiplier2 = make_shape(1, 32, 8, 8, 64, 3, 3);
  multiplier2.groups = 32;  // groups == c but k = 2c: generic grouped path
  EXPECT_EQ(conv2d_algorithm(multiplier2), Conv2dAlgorithm::ImplicitGemm);
  Conv2dShape resnext = make_shape(1, 128, 8, 8, 128, 3, 3);
  resnext.groups = 32;
  EXPECT_EQ(conv2d_algorithm(resnext), Conv2dAlgorithm::ImplicitGemm);
  EXPECT_EQ(conv2d_launch(resnext).kernel, "conv2d_implicit_gemm<float>");
  EXPECT_EQ(conv2d_algorithm(make_shape(1, 1, 8, 8, 1, 3, 3)), Conv2dAlgorithm::Depthwise);  // c = k = groups = 1
  EXPECT_EQ(conv2d_algorithm(make_shape(1, 3, 8, 8, 5, 3, 3)), Conv2dAlgorithm::ImplicitGemm);
  EXPECT_STREQ(conv2d_algorithm_name(Conv2dAlgorithm::Depthwise), "depthwise");
  EXPECT_STREQ(conv2d_algorithm_name(Conv2dAlgorithm::ImplicitGemm), "implicit_gemm");
}

TEST(Conv2dLaunch, ImplicitGemmGeometry) {
  Conv2dShape s = pad(make_shape(2, 64, 56, 56, 64, 3, 3), 1, 1, 1, 1);
  const LaunchGeometry g = conv2d_implicit_gemm_launch(s);
  EXPECT_EQ(g.kernel, "conv2d_implicit_gemm<float>");
  EXPECT_EQ(g.grid.x, unsigned((2 * 56 * 56 + 63) / 64));
  EXPECT_EQ(g.grid.y, 1u);
  EXPECT_EQ(g.grid.z, 1u);
  EXPECT_EQ(g.block.x, 256u);
  EXPECT_EQ(g.block.count(), 256u);
  EXPECT_EQ(g.shared_bytes, sizeof(float) * (16 * (64 + 4) + 16 * 64));
  EXPECT_LE(g.shared_bytes, 48u * 1024u);  // static shared memory limit

  Conv2dShape grouped = pad(make_shape(1, 256, 14, 14, 320, 3, 3), 1, 1, 1, 1);
  grouped.groups = 2;  // 160 output channels per group: 3 tiles along M
  const LaunchGeometry gg = conv2d_implicit_gemm_launch(grouped);
  EXPECT_EQ(gg.grid.x, unsigned((14 * 14 + 63) / 64));
  EXPECT_EQ(gg.grid.y, 3u);
  EXPECT_EQ(gg.grid.z, 2u);
}

// Replays the kernel's thread -> output mapping over the whole grid: every output element of y is
// written by exactly one (block, thread, i, j), and nothing outside y is.
TEST(Conv2dLaunch, ImplicitGemmGridCoversEveryOutputOnce) {
  std::vector<Conv2dShape> shapes = index_shapes();
  {
    Conv2dShape s = pad(make_shape(2, 8, 11, 9, 130, 3, 3), 1, 1, 1, 1);  // M = 130: 3 tiles, ragged
    shapes.push_back(s);
  }
  {
    Conv2dShape s = pad(make_shape(1, 64, 9, 9, 64, 3, 3), 1, 1, 1, 1);
    s.groups = 32;  // ResNeXt-like: 2 channels per group
    shapes.push_back(s);
  }
  for (const Conv2dShape& s : shapes) {
    if (conv2d_algorithm(s) != Conv2dAlgorithm::ImplicitGemm) continue;
    const LaunchGeometry g = conv2d_implicit_gemm_launch(s);
    const int gemm_m = s.k_per_group();
    const int64_t gemm_n = conv2d_gemm_columns(s);
    std::vector<int> hits(size_t(conv2d_output_count(s)), 0);
    int64_t outside = 0;
    for (unsigned bz = 0; bz < g.grid.z; ++bz)
      for (unsigned by = 0; by < g.grid.y; ++by)
        for (unsigned bx = 0; bx < g.grid.x; ++bx)
          for (int tid = 0; tid < int(g.block.x); ++tid)
            for (int i = 0; i < conv2d_gemm::kThreadM; ++i)
              for (int j = 0; j < conv2d_gemm::kThreadN; ++j) {
                const int m = int(by) * conv2d_gemm::kTileM + conv2d_gemm_thread_m(tid, i);
                const int64_t col = int64_t(bx) * conv2d_gemm::kTileN + conv2d_gemm_thread_n(tid, j);
                if (m >= gemm_m || col >= gemm_n) continue;  // the kernel's guards
                const int64_t offset = conv2d_output_offset(s, int(bz) * gemm_m + m, col);
                if (offset < 0 || offset >= int64_t(hits.size()))
                  ++outside;
                else
                  ++hits[size_t(offset)];
              }
    EXPECT_EQ(outside, 0);
    int64_t wrong = 0;
    for (int h : hits) wrong += h != 1;
    EXPECT_EQ(wrong, 0) << "outputs not written exactly once, of " << hits.size();
  }
}

// Within a block: the micro-tiles partition the 64x64 tile, the A loads the 64x16 A tile and the B
// loads the 16x64 B tile, each element exactly once.
TEST(Conv2dLaunch, ImplicitGemmTileMappingsArePartitions) {
  using namespace conv2d_gemm;
  std::vector<int> out(kTileM * kTileN, 0), a(kTileM * kTileK, 0), b(kTileK * kTileN, 0);
  for (int tid = 0; tid < kThreads; ++tid) {
    for (int i = 0; i < kThreadM; ++i)
      for (int j = 0; j < kThreadN; ++j) {
        const int m = conv2d_gemm_thread_m(tid, i), n = conv2d_gemm_thread_n(tid, j);
        ASSERT_TRUE(m >= 0 && m < kTileM && n >= 0 && n < kTileN);
        ++out[size_t(m * kTileN + n)];
      }
    for (int l = 0; l < kLoadsA; ++l) {
      const int m = conv2d_gemm_load_a_m(tid, l), kk = conv2d_gemm_load_a_k(tid, l);
      ASSERT_TRUE(m >= 0 && m < kTileM && kk >= 0 && kk < kTileK);
      ++a[size_t(m * kTileK + kk)];
    }
    for (int l = 0; l < kLoadsB; ++l) {
      const int kk = conv2d_gemm_load_b_k(tid, l), n = conv2d_gemm_load_b_n(tid);
      ASSERT_TRUE(kk >= 0 && kk < kTileK && n >= 0 && n < kTileN);
      ++b[size_t(kk * kTileN + n)];
    }
  }
  for (int v : out) EXPECT_EQ(v, 1);
  for (int v : a) EXPECT_EQ(v, 1);
  for (int v : b) EXPECT_EQ(v, 1);
}

TEST(Conv2dLaunch, DepthwiseGeometryCoversEveryOutput) {
  for (const Conv2dShape& base : index_shapes()) {
    Conv2dShape s = base;
    s.k = s.c, s.groups = s.c;
    ASSERT_EQ(conv2d_shape_error(s), nullptr);
    ASSERT_EQ(conv2d_algorithm(s), Conv2dAlgorithm::Depthwise);
    const LaunchGeometry g = conv2d_depthwise_launch(s);
    EXPECT_EQ(g.kernel, "conv2d_depthwise<float>");
    EXPECT_EQ(g.block.x, 256u);
    EXPECT_EQ(g.grid.y, 1u);
    EXPECT_EQ(g.grid.z, 1u);
    EXPECT_EQ(g.shared_bytes, 0u);
    const int64_t total = conv2d_output_count(s);
    EXPECT_GE(int64_t(g.grid.x) * g.block.x, total);                    // one thread per output...
    EXPECT_LT((int64_t(g.grid.x) - 1) * g.block.x, total);              // ...and no idle block
    EXPECT_EQ(conv2d_launch(s).grid.x, g.grid.x);
  }
  // Past CUDA's gridDim.x limit the grid saturates and the kernel strides.
  Conv2dShape huge = make_shape(1 << 15, 256, 256, 256, 256, 1, 1);
  huge.groups = 256;
  EXPECT_EQ(int64_t(conv2d_depthwise_launch(huge).grid.x), kConv2dMaxGridX);
}

// ---- Per precision, and the tensor-core implicit GEMM (conv2d_implicit_gemm_tc<T>) ----

TEST(Conv2dLaunchPrecision, AlgorithmAndKernelNamePerPrecision) {
  Conv2dShape dw = make_shape(1, 32, 8, 8, 32, 3, 3);
  dw.groups = 32;
  Conv2dShape dense = pad(make_shape(2, 64, 56, 56, 64, 3, 3), 1, 1, 1, 1);
  EXPECT_EQ(conv2d_algorithm(dense, Precision::F32), Conv2dAlgorithm::ImplicitGemm);
  EXPECT_EQ(conv2d_algorithm(dense, Precision::F16), Conv2dAlgorithm::ImplicitGemmTensorCore);
  EXPECT_EQ(conv2d_algorithm(dense, Precision::BF16), Conv2dAlgorithm::ImplicitGemmTensorCore);
  EXPECT_EQ(conv2d_algorithm(dw, Precision::F16), Conv2dAlgorithm::Depthwise);  // direct kernel at every precision
  EXPECT_STREQ(conv2d_algorithm_name(Conv2dAlgorithm::ImplicitGemmTensorCore), "implicit_gemm_tc");
  EXPECT_EQ(conv2d_launch(dense, Precision::F32).kernel, "conv2d_implicit_gemm<float>");
  EXPECT_EQ(conv2d_launch(dense, Precision::F16).kernel, "conv2d_implicit_gemm_tc<__half>");
  EXPECT_EQ(conv2d_launch(dense, Precision::BF16).kernel, "conv2d_implicit_gemm_tc<__nv_bfloat16>");
  EXPECT_EQ(conv2d_launch(dw, Precision::F16).kernel, "conv2d_depthwise<__half>");
  EXPECT_EQ(conv2d_launch(dw, Precision::BF16).kernel, "conv2d_depthwise<__nv_bfloat16>");
  EXPECT_EQ(conv2d_launch(dw, Precision::BF16).grid.x, conv2d_launch(dw).grid.x);  // same geometry
}

TEST(Conv2dLaunchPrecision, TensorCoreGeometry) {
  Conv2dShape grouped = pad(make_shape(1, 256, 14, 14, 320, 3, 3), 1, 1, 1, 1);
  grouped.groups = 2;
  for (Precision p : {Precision::F16, Precision::BF16}) {
    const LaunchGeometry g = conv2d_launch(grouped, p);
    EXPECT_EQ(g.grid.x, unsigned((14 * 14 + 63) / 64));
    EXPECT_EQ(g.grid.y, 3u);  // 160 output channels per group
    EXPECT_EQ(g.grid.z, 2u);
    EXPECT_EQ(g.block.count(), unsigned(gemm_tc::kThreads));
    EXPECT_EQ(g.shared_bytes, gemm_tc::kSharedBytes);
    EXPECT_LE(g.shared_bytes, 48u * 1024u);
  }
}

TEST(Conv2dLaunchPrecision, TensorCoreGatherCoversTheBTileOnce) {
  std::vector<int> b(gemm_tc::kTileK * gemm_tc::kTileN, 0);
  for (int tid = 0; tid < gemm_tc::kThreads; ++tid)
    for (int l = 0; l < gemm_tc::kLoadsB; ++l) {
      const int kk = conv2d_tc_load_b_k(tid, l), n = conv2d_tc_load_b_n(tid);
      ASSERT_TRUE(kk >= 0 && kk < gemm_tc::kTileK && n >= 0 && n < gemm_tc::kTileN);
      ++b[size_t(kk * gemm_tc::kTileN + n)];
    }
  for (int v : b) EXPECT_EQ(v, 1);
  EXPECT_EQ(conv2d_tc_load_b_n(1), conv2d_tc_load_b_n(0) + 1);  // a warp gathers consecutive pixels
}

// Emulates conv2d_implicit_gemm_tc on the CPU with the kernel's maps and predicates (tiles start as
// NaN, so a missed load or zero-fill poisons the result) and compares with conv2d_ref on small
// integers (exact in float whatever the summation order); every output is stored exactly once.
void emulate_conv2d_tc(const Conv2dShape& s) {
  using namespace gemm_tc;
  ASSERT_EQ(conv2d_shape_error(s), nullptr);
  ASSERT_EQ(conv2d_algorithm(s, Precision::F16), Conv2dAlgorithm::ImplicitGemmTensorCore);
  const int64_t x_count = int64_t(s.n) * s.c * s.h * s.w;
  const int gemm_m = s.k_per_group();
  const int gemm_k = int(conv2d_gemm_reduction(s));
  const int64_t gemm_n = conv2d_gemm_columns(s);
  std::vector<float> x(static_cast<size_t>(x_count)), w(static_cast<size_t>(int64_t(s.k) * gemm_k)),
      bias(static_cast<size_t>(s.k)), residual(static_cast<size_t>(conv2d_output_count(s)));
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(int(i % 7) - 3);
  for (size_t i = 0; i < w.size(); ++i) w[i] = float(int(i % 5) - 2);
  for (size_t i = 0; i < bias.size(); ++i) bias[i] = float(int(i % 3));
  for (size_t i = 0; i < residual.size(); ++i) residual[i] = float(int(i % 4) - 1);
  std::vector<float> ref(residual.size());
  conv2d_ref(s, x.data(), w.data(), bias.data(), residual.data(), ActivationParams{}, ref.data());

  const LaunchGeometry g = conv2d_launch(s, Precision::BF16);
  std::vector<float> y(ref.size(), -1.f);
  std::vector<int> writes(ref.size(), 0);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  static float a_tile[kTileM][kLdA], b_tile[kTileK][kLdB];
  for (unsigned bz = 0; bz < g.grid.z; ++bz)
    for (unsigned by = 0; by < g.grid.y; ++by)
      for (unsigned bx = 0; bx < g.grid.x; ++bx) {
        const int group = int(bz), m0 = int(by) * kTileM;
        const int64_t n0 = int64_t(bx) * kTileN;
        const float* w_group = w.data() + int64_t(group) * gemm_m * gemm_k;
        std::vector<float> acc(size_t(kTileM) * kTileN, 0.f);
        for (int k0 = 0; k0 < gemm_k; k0 += kTileK) {
          for (auto& row : a_tile) std::fill(std::begin(row), std::end(row), nan);
          for (auto& row : b_tile) std::fill(std::begin(row), std::end(row), nan);
          for (int tid = 0; tid < kThreads; ++tid) {
            for (int l = 0; l < kLoadsA; ++l) {
              const GemmTileCoord t = gemm_tc_load_a(tid, l);
              const int m = m0 + t.mn, kk = k0 + t.kk;
              a_tile[t.mn][t.kk] = (m < gemm_m && kk < gemm_k) ? w_group[int64_t(m) * gemm_k + kk] : 0.f;
            }
            const int b_n = conv2d_tc_load_b_n(tid);
            const Conv2dGemmColumn column = conv2d_gemm_column(s, group, n0 + b_n);
            for (int l = 0; l < kLoadsB; ++l) {
              const int kk = conv2d_tc_load_b_k(tid, l);
              const int64_t offset = conv2d_gemm_gather(s, column, k0 + kk);
              ASSERT_LT(offset, x_count);
              b_tile[kk][b_n] = offset >= 0 ? x[size_t(offset)] : 0.f;
            }
          }
          for (int wi = 0; wi < kWarps; ++wi)
            for (int i = 0; i < kFragsPerWarp; ++i)
              for (int j = 0; j < kFragsPerWarp; ++j) {
                const int r0 = gemm_tc_warp_row(wi) + kFrag * i, c0 = gemm_tc_warp_col(wi) + kFrag * j;
                for (int r = r0; r < r0 + kFrag; ++r)
                  for (int c = c0; c < c0 + kFrag; ++c)
                    for (int q = 0; q < kTileK; ++q) acc[size_t(r) * kTileN + c] += a_tile[r][q] * b_tile[q][c];
              }
        }
        for (int tid = 0; tid < kThreads; ++tid)
          for (int l = 0; l < kEpiloguePerThread; ++l) {
            const GemmTileCoord t = gemm_tc_epilogue(tid, l);
            const int m = m0 + t.mn;
            const int64_t col = n0 + t.kk;
            if (m >= gemm_m || col >= gemm_n) continue;
            const int out_channel = group * gemm_m + m;
            const int64_t offset = conv2d_output_offset(s, out_channel, col);
            ASSERT_TRUE(offset >= 0 && offset < int64_t(y.size()));
            y[size_t(offset)] = acc[size_t(t.mn) * kTileN + t.kk] + bias[size_t(out_channel)] + residual[size_t(offset)];
            ++writes[size_t(offset)];
          }
      }
  for (int v : writes) ASSERT_EQ(v, 1);
  for (size_t i = 0; i < y.size(); ++i) ASSERT_EQ(y[i], ref[i]) << "output " << i;
}

TEST(Conv2dLaunchPrecision, TensorCoreEmulationMatchesTheReference) {
  std::vector<Conv2dShape> shapes;
  for (const Conv2dShape& s : index_shapes())
    if (conv2d_algorithm(s) != Conv2dAlgorithm::Depthwise) shapes.push_back(s);
  shapes.push_back(pad(make_shape(2, 1, 9, 7, 7, 3, 3), 1, 1, 1, 1));        // K = 9 < 16
  shapes.push_back(pad(make_shape(1, 8, 11, 9, 130, 3, 3), 1, 1, 1, 1));     // M = 130: ragged tiles
  shapes.push_back(pad(make_shape(3, 17, 5, 6, 17, 1, 1), 0, 0, 0, 0));      // K = 17, N = 90
  {
    Conv2dShape s = pad(make_shape(1, 12, 9, 10, 18, 3, 3), 1, 2, 0, 1);     // grouped, strided, dilated
    s.groups = 3, s.stride_h = 2, s.stride_w = 1, s.dilation_w = 2;
    shapes.push_back(s);
  }
  {
    Conv2dShape s = pad(make_shape(2, 64, 9, 9, 64, 3, 3), 1, 1, 1, 1);      // ResNeXt-like, K = 18
    s.groups = 32;
    shapes.push_back(s);
  }
  {
    Conv2dShape s = make_shape(1, 33, 8, 8, 65, 5, 5);                      // K = 825: many k slices
    s.stride_h = s.stride_w = 3;
    shapes.push_back(s);
  }
  for (const Conv2dShape& s : shapes) {
    SCOPED_TRACE("n" + std::to_string(s.n) + " c" + std::to_string(s.c) + " " + std::to_string(s.h) + "x" +
                 std::to_string(s.w) + " k" + std::to_string(s.k) + " " + std::to_string(s.r) + "x" +
                 std::to_string(s.s) + " g" + std::to_string(s.groups));
    emulate_conv2d_tc(s);
  }
}

}  // namespace
}  // namespace dstack::kernels
