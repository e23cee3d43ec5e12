// Max / average / global-average pooling against a naive window walk, plus hand-computed ONNX
// edge cases (ceil_mode, asymmetric pads, count_include_pad, the dropped last window).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "kernels/pooling.h"
#include "test/kernels/test_data.h"
#include "test/kernels/tolerance.h"

namespace dstack::kernels {
namespace {

using ktest::expect_close;
using ktest::random_vector;

// Output count along one axis, counted window by window rather than by formula: window o starts at
// o * stride - pad_begin. Floor mode keeps windows that end inside the padded extent; ceil mode
// also keeps one that runs past it, as long as it starts inside the input or the begin padding.
int naive_out_dim(bool ceil_mode, int in, int kernel, int stride, int pad_begin, int pad_end) {
  int count = 0;
  for (int o = 0;; ++o) {
    const int start = o * stride - pad_begin;
    const bool fits = start + kernel <= in + pad_end;
    const bool ceil_extra = ceil_mode && start < in && start + kernel - stride < in + pad_end;
    if (!fits && !ceil_extra) break;
    ++count;
  }
  return count;
}

// One output of max or average pooling, tap by tap: a tap is real (inside the input), padding
// (inside the padded extent) or beyond (past the padded extent, only in ceil mode).
std::vector<float> naive_pool(const Pool2dShape& s, const std::vector<float>& x, bool is_max) {
  const int oh_size = naive_out_dim(s.ceil_mode, s.h, s.kernel_h, s.stride_h, s.pad_top, s.pad_bottom);
  const int ow_size = naive_out_dim(s.ceil_mode, s.w, s.kernel_w, s.stride_w, s.pad_left, s.pad_right);
  std::vector<float> y;
  for (int plane = 0; plane < s.n * s.c; ++plane)
    for (int oh = 0; oh < oh_size; ++oh)
      for (int ow = 0; ow < ow_size; ++ow) {
        double sum = 0.0;
        float max_val = -INFINITY;
        int real = 0, in_padded_extent = 0;
        for (int kh = 0; kh < s.kernel_h; ++kh)
          for (int kw = 0; kw < s.kernel_w; ++kw) {
            const int ih = oh * s.stride_h - s.pad_top + kh, iw = ow * s.stride_w - s.pad_left + kw;
            const bool inside_padded = ih >= -s.pad_top && ih < s.h + s.pad_bottom && iw >= -s.pad_left &&
                                       iw < s.w + s.pad_right;
            in_padded_extent += inside_padded;
            if (ih < 0 || ih >= s.h || iw < 0 || iw >= s.w) continue;
            const float v = x[(size_t(plane) * s.h + ih) * s.w + iw];
            ++real;
            sum += v;
            max_val = std::max(max_val, v);
          }
        y.push_back(is_max ? max_val : float(sum / (s.count_include_pad ? in_padded_extent : real)));
      }
  return y;
}

Pool2dShape make_pool(int h, int w, int kernel_h, int kernel_w, int stride_h, int stride_w) {
  Pool2dShape s;
  s.h = h, s.w = w, s.kernel_h = kernel_h, s.kernel_w = kernel_w, s.stride_h = stride_h, s.stride_w = stride_w;
  return s;
}

void set_pads(Pool2dShape& s, int top, int left, int bottom, int right) {
  s.pad_top = top, s.pad_left = left, s.pad_bottom = bottom, s.pad_right = right;
}

TEST(Pool2dRef, MatchesNaiveWindowWalk) {
  std::vector<Pool2dShape> shapes;
  {
    Pool2dShape s = make_pool(7, 5, 3, 2, 2, 2);
    s.n = 2, s.c = 3;
    set_pads(s, 1, 0, 2, 1);
    shapes.push_back(s);
  }
  {
    Pool2dShape s = make_pool(112, 112, 3, 3, 2, 2);  // ResNet stem max pool
    set_pads(s, 1, 1, 1, 1);
    shapes.push_back(s);
  }
  {
    Pool2dShape s = make_pool(6, 9, 3, 3, 3, 2);
    s.c = 2;
    set_pads(s, 0, 2, 2, 0);
    shapes.push_back(s);
  }
  {
    Pool2dShape s = make_pool(5, 4, 2, 3, 1, 3);
    set_pads(s, 1, 1, 0, 2);
    shapes.push_back(s);
  }
  shapes.push_back(make_pool(8, 8, 8, 8, 1, 1));  // one window: the whole plane
  shapes.push_back(make_pool(13, 11, 1, 1, 2, 3));
  uint32_t seed = 1;
  for (Pool2dShape s : shapes)
    for (bool ceil_mode : {false, true})
      for (bool include_pad : {false, true}) {
        s.ceil_mode = ceil_mode, s.count_include_pad = include_pad;
        SCOPED_TRACE("h=" + std::to_string(s.h) + " w=" + std::to_string(s.w) + " kernel " +
                     std::to_string(s.kernel_h) + "x" + std::to_string(s.kernel_w) +
                     (ceil_mode ? " ceil" : " floor") + (include_pad ? " include_pad" : ""));
        ASSERT_EQ(pool2d_shape_error(s), nullptr);
        ASSERT_EQ(s.out_h(), naive_out_dim(ceil_mode, s.h, s.kernel_h, s.stride_h, s.pad_top, s.pad_bottom));
        ASSERT_EQ(s.out_w(), naive_out_dim(ceil_mode, s.w, s.kernel_w, s.stride_w, s.pad_left, s.pad_right));
        const auto x = random_vector(int64_t(s.n) * s.c * s.h * s.w, seed++);
        std::vector<float> y(size_t(s.n) * s.c * s.out_h() * s.out_w(), -7.f);
        maxpool2d_ref(s, x.data(), y.data());
        expect_close(naive_pool(s, x, true), y, ktest::kExact, ktest::kExact);
        avgpool2d_ref(s, x.data(), y.data());
        expect_close(naive_pool(s, x, false), y, ktest::kMathAtol, ktest::kMathRtol);
      }
}

// One row of pooling along w (h = 1, kernel_h = 1): the hand-computed ONNX cases.
struct Row {
  std::vector<float> max, avg, avg_include_pad;
};
Row pool_row(const std::vector<float>& x, int kernel, int stride, int pad_begin, int pad_end, bool ceil_mode) {
  Pool2dShape s = make_pool(1, int(x.size()), 1, kernel, 1, stride);
  set_pads(s, 0, pad_begin, 0, pad_end);
  s.ceil_mode = ceil_mode;
  EXPECT_EQ(pool2d_shape_error(s), nullptr);
  Row row;
  row.max.resize(size_t(s.out_w()));
  row.avg.resize(row.max.size());
  row.avg_include_pad.resize(row.max.size());
  maxpool2d_ref(s, x.data(), row.max.data());
  avgpool2d_ref(s, x.data(), row.avg.data());
  s.count_include_pad = true;
  avgpool2d_ref(s, x.data(), row.avg_include_pad.data());
  return row;
}

TEST(Pool2dOnnx, CeilModeAddsAPartialLastWindow) {
  // Input 5, kernel 2, stride 2: floor gives windows [0,2) [2,4); ceil adds [4,6), clipped to [4,5).
  const std::vector<float> x = {1, 2, 3, 4, 5};
  const Row floor_row = pool_row(x, 2, 2, 0, 0, false);
  EXPECT_EQ(floor_row.max, (std::vector<float>{2, 4}));
  const Row ceil_row = pool_row(x, 2, 2, 0, 0, true);
  EXPECT_EQ(ceil_row.max, (std::vector<float>{2, 4, 5}));
  EXPECT_EQ(ceil_row.avg, (std::vector<float>{1.5f, 3.5f, 5.f}));
  // The part of the last window past the padded extent (here: past the input) is not counted.
  EXPECT_EQ(ceil_row.avg_include_pad, (std::vector<float>{1.5f, 3.5f, 5.f}));
}

TEST(Pool2dOnnx, LastWindowStartingInPaddingIsDropped) {
  // Input 5, kernel 3, stride 3, pads 1/1: ceil((5 + 2 - 3) / 3) + 1 = 3 windows by formula, but
  // the third would start at 6 - 1 = 5, in the end padding, so ONNX drops it: windows [-1,2) [2,5).
  const std::vector<float> x = {1, 2, 3, 4, 5};
  Pool2dShape s = make_pool(1, 5, 1, 3, 1, 3);
  set_pads(s, 0, 1, 0, 1);
  s.ceil_mode = true;
  EXPECT_EQ(s.out_w(), 2);
  const Row row = pool_row(x, 3, 3, 1, 1, true);
  EXPECT_EQ(row.max, (std::vector<float>{2, 5}));
  EXPECT_EQ(row.avg, (std::vector<float>{1.5f, 4.f}));
  EXPECT_EQ(row.avg_include_pad, (std::vector<float>{1.f, 4.f}));  // (0 + 1 + 2) / 3
}

TEST(Pool2dOnnx, AsymmetricPadsCeilAndCountIncludePad) {
  // Input 5, kernel 3, stride 2, pads 2 (begin) / 1 (end).
  const std::vector<float> x = {1, 2, 3, 4, 5};
  // Floor: (5 + 3 - 3) / 2 + 1 = 3 windows starting at -2, 0, 2.
  const Row floor_row = pool_row(x, 3, 2, 2, 1, false);
  EXPECT_EQ(floor_row.max, (std::vector<float>{1, 3, 5}));
  EXPECT_EQ(floor_row.avg, (std::vector<float>{1.f, 2.f, 4.f}));
  EXPECT_EQ(floor_row.avg_include_pad, (std::vector<float>{1.f / 3.f, 2.f, 4.f}));
  // Ceil: a fourth window starts at 4 and covers [4, 7); the padded extent ends at 6, so with
  // count_include_pad it divides by 2 (one real element, one pad), without it by 1.
  const Row ceil_row = pool_row(x, 3, 2, 2, 1, true);
  EXPECT_EQ(ceil_row.max, (std::vector<float>{1, 3, 5, 5}));
  EXPECT_EQ(ceil_row.avg, (std::vector<float>{1.f, 2.f, 4.f, 5.f}));
  EXPECT_EQ(ceil_row.avg_include_pad, (std::vector<float>{1.f / 3.f, 2.f, 4.f, 2.5f}));
}

TEST(Pool2dOnnx, MaxIgnoresPaddingEvenWhenAllValuesAreNegative) {
  const std::vector<float> x = {-3, -1, -2};
  const Row row = pool_row(x, 2, 1, 1, 1, false);  // windows [-1,1) [0,2) [1,3) [2,4)
  EXPECT_EQ(row.max, (std::vector<float>{-3, -1, -1, -2}));
  EXPECT_EQ(row.avg, (std::vector<float>{-3, -2, -1.5f, -2}));
  EXPECT_EQ(row.avg_include_pad, (std::vector<float>{-1.5f, -2, -1.5f, -1}));
}

TEST(Pool2dShapeError, NamesTheProblem) {
  const Pool2dShape ok = make_pool(5, 5, 3, 3, 2, 2);
  EXPECT_EQ(pool2d_shape_error(ok), nullptr);
  auto error_of = [&](auto mutate) {
    Pool2dShape s = ok;
    mutate(s);
    const char* e = pool2d_shape_error(s);
    return std::string(e ? e : "(valid)");
  };
  EXPECT_EQ(error_of([](Pool2dShape& s) { s.kernel_w = 6; }), "kernel larger than padded input");
  EXPECT_EQ(error_of([](Pool2dShape& s) { s.kernel_w = 6, s.pad_right = 1; }), "(valid)");
  EXPECT_EQ(error_of([](Pool2dShape& s) { s.stride_h = 0; }), "stride must be >= 1");
  EXPECT_EQ(error_of([](Pool2dShape& s) { s.pad_top = -1; }), "padding must be >= 0");
  EXPECT_EQ(error_of([](Pool2dShape& s) { s.pad_bottom = 3; }), "padding must be smaller than the kernel");
  EXPECT_EQ(error_of([](Pool2dShape& s) { s.kernel_h = 0; }), "kernel dims must be >= 1");
  EXPECT_EQ(error_of([](Pool2dShape& s) { s.c = 0; }), "batch, channels and spatial dims must be >= 1");
}

TEST(GlobalAvgPoolRef, MatchesNaiveMean) {
  const int n = 2, c = 5, hw = 49;
  const auto x = random_vector(int64_t(n) * c * hw, 9);
  std::vector<float> ref(size_t(n) * c), y(ref.size());
  for (size_t plane = 0; plane < ref.size(); ++plane) {
    double sum = 0.0;
    for (int i = 0; i < hw; ++i) sum += x[plane * hw + size_t(i)];
    ref[plane] = float(sum / hw);
  }
  global_avgpool_ref(n, c, hw, x.data(), y.data());
  expect_close(ref, y, ktest::kMathAtol, ktest::kMathRtol);
}

}  // namespace
}  // namespace dstack::kernels
