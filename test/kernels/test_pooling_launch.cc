// Pooling CUDA side, on the CPU: launch geometry, and the kernels' window math (kernels/pooling.h)
// replayed output by output against the CPU reference (same float ops in the same order: exact).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "kernels/pooling.h"
#include "test/kernels/test_data.h"
#include "test/kernels/tolerance.h"

namespace dstack::kernels {
namespace {

using ktest::expect_close;
using ktest::kExact;
using ktest::random_vector;

// What maxpool2d_f32 / avgpool2d_f32 compute, one output element at a time.
std::vector<float> emulate_pool(const Pool2dShape& s, const std::vector<float>& x, bool is_max) {
  const int out_h = s.out_h(), out_w = s.out_w();
  const int64_t count = int64_t(s.n) * s.c * out_h * out_w;
  std::vector<float> y(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    const Pool2dOutputCoords o = pool2d_output_coords(i, out_h, out_w);
    const Pool2dWindow wh = pool2d_window(o.oh, s.h, s.kernel_h, s.stride_h, s.pad_top, s.pad_bottom);
    const Pool2dWindow ww = pool2d_window(o.ow, s.w, s.kernel_w, s.stride_w, s.pad_left, s.pad_right);
    EXPECT_LT(wh.begin, wh.end);  // every window holds an input element
    EXPECT_LT(ww.begin, ww.end);
    const float* x_p = x.data() + o.plane * s.h * s.w;
    float m = -INFINITY, sum = 0.f;
    for (int ih = wh.begin; ih < wh.end; ++ih)
      for (int iw = ww.begin; iw < ww.end; ++iw) {
        const float v = x_p[int64_t(ih) * s.w + iw];
        m = m < v ? v : m;
        sum += v;
      }
    const int taps = s.count_include_pad ? (wh.padded_end - wh.padded_begin) * (ww.padded_end - ww.padded_begin)
                                         : (wh.end - wh.begin) * (ww.end - ww.begin);
    y[size_t(i)] = is_max ? m : sum / float(taps);
  }
  return y;
}

Pool2dShape shape(int n, int c, int h, int w, int kh, int kw, int sh, int sw, int pt, int pl, int pb, int pr, bool ceil,
                  bool include_pad) {
  Pool2dShape s;
  s.n = n, s.c = c, s.h = h, s.w = w, s.kernel_h = kh, s.kernel_w = kw, s.stride_h = sh, s.stride_w = sw;
  s.pad_top = pt, s.pad_left = pl, s.pad_bottom = pb, s.pad_right = pr;
  s.ceil_mode = ceil, s.count_include_pad = include_pad;
  return s;
}

std::vector<Pool2dShape> odd_shapes() {
  std::vector<Pool2dShape> v;
  for (bool include_pad : {false, true}) {
    v.push_back(shape(2, 3, 7, 9, 3, 3, 2, 2, 1, 1, 1, 1, false, include_pad));   // ResNet-style
    v.push_back(shape(1, 2, 6, 6, 3, 3, 2, 2, 0, 0, 0, 0, true, include_pad));    // ceil mode, last window clipped
    v.push_back(shape(1, 1, 5, 8, 3, 2, 2, 3, 1, 0, 2, 1, true, include_pad));    // ceil mode, asymmetric pads
    v.push_back(shape(2, 1, 5, 5, 2, 2, 2, 2, 1, 1, 1, 1, true, include_pad));    // ceil mode, a window dropped
    v.push_back(shape(1, 3, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, false, include_pad));   // 1x1
    v.push_back(shape(1, 2, 4, 11, 1, 4, 3, 1, 0, 2, 0, 3, false, include_pad));  // stride > kernel, 1-row kernel
    v.push_back(shape(3, 2, 9, 4, 4, 4, 1, 1, 3, 1, 2, 3, true, include_pad));    // large pads, stride 1
  }
  return v;
}

TEST(PoolingLaunch, WindowMathMatchesTheReference) {
  uint32_t seed = 1;
  for (const Pool2dShape& s : odd_shapes()) {
    ASSERT_EQ(pool2d_shape_error(s), nullptr);
    SCOPED_TRACE("shape " + std::to_string(seed) + " out " + std::to_string(s.out_h()) + "x" +
                 std::to_string(s.out_w()) + (s.ceil_mode ? " ceil" : "") + (s.count_include_pad ? " incl-pad" : ""));
    const std::vector<float> x = random_vector(int64_t(s.n) * s.c * s.h * s.w, seed++);
    const size_t out = size_t(s.n) * size_t(s.c) * size_t(s.out_h()) * size_t(s.out_w());
    std::vector<float> ref_max(out), ref_avg(out);
    maxpool2d_ref(s, x.data(), ref_max.data());
    avgpool2d_ref(s, x.data(), ref_avg.data());
    expect_close(ref_max, emulate_pool(s, x, true), kExact, kExact);
    expect_close(ref_avg, emulate_pool(s, x, false), kExact, kExact);
  }
}

TEST(PoolingLaunch, WindowsByHand) {
  // in 5, kernel 3, stride 2, pads 1/1: windows [-1, 2), [1, 4), [3, 6) -> clipped [0,2) [1,4) [3,5).
  Pool2dWindow w = pool2d_window(0, 5, 3, 2, 1, 1);
  EXPECT_EQ(w.begin, 0);
  EXPECT_EQ(w.end, 2);
  EXPECT_EQ(w.padded_begin, -1);
  EXPECT_EQ(w.padded_end, 2);
  w = pool2d_window(2, 5, 3, 2, 1, 1);
  EXPECT_EQ(w.begin, 3);
  EXPECT_EQ(w.end, 5);
  EXPECT_EQ(w.padded_end, 6);
  // Ceil mode past the padded extent: padded_end clipped to in + pad_end.
  w = pool2d_window(2, 6, 3, 2, 0, 0);
  EXPECT_EQ(w.begin, 4);
  EXPECT_EQ(w.end, 6);
  EXPECT_EQ(w.padded_end, 6);
  w = pool2d_window(3, 6, 3, 2, 0, 0);
  EXPECT_EQ(w.end, 6);
  EXPECT_EQ(w.padded_end, 6);

  const Pool2dOutputCoords o = pool2d_output_coords(2 * 12 + 1 * 4 + 3, 3, 4);
  EXPECT_EQ(o.plane, 2);
  EXPECT_EQ(o.oh, 1);
  EXPECT_EQ(o.ow, 3);
}

TEST(PoolingLaunch, Geometry) {
  const Pool2dShape s = shape(2, 3, 7, 9, 3, 3, 2, 2, 1, 1, 1, 1, false, false);  // out 4x5: 120 outputs
  const LaunchGeometry g = maxpool2d_launch(s);
  EXPECT_EQ(g.kernel, "maxpool2d<float>");
  EXPECT_EQ(g.block.x, 256u);
  EXPECT_EQ(g.grid.x, 1u);
  EXPECT_EQ(g.shared_bytes, 0u);
  EXPECT_EQ(avgpool2d_launch(s).kernel, "avgpool2d<float>");
  const Pool2dShape big = shape(64, 64, 112, 112, 3, 3, 2, 2, 1, 1, 1, 1, false, false);  // 56x56 out
  EXPECT_EQ(maxpool2d_launch(big).grid.x, kPoolGridCap);
  const Pool2dShape mid = shape(1, 3, 40, 40, 2, 2, 2, 2, 0, 0, 0, 0, false, false);  // 3 * 400 = 1200 outputs
  EXPECT_EQ(avgpool2d_launch(mid).grid.x, 5u);

  const LaunchGeometry gg = global_avgpool_launch(2, 9, 49);  // 18 planes, 8 per block
  EXPECT_EQ(gg.kernel, "global_avgpool<float>");
  EXPECT_EQ(gg.block.x, 256u);
  EXPECT_EQ(gg.grid.x, 3u);
  EXPECT_EQ(global_avgpool_launch(1, 8, 49).grid.x, 1u);
  EXPECT_EQ(global_avgpool_launch(0, 8, 49).grid.x, 0u);
  EXPECT_EQ(global_avgpool_launch(1024, 2048, 49).grid.x, kPoolGridCap);
}

TEST(PoolingLaunch, PrecisionNamesTheStorageType) {
  const Pool2dShape s = shape(2, 3, 7, 9, 3, 3, 2, 2, 1, 1, 1, 1, false, false);
  const std::pair<Precision, std::string> cases[] = {
      {Precision::F32, "float"}, {Precision::F16, "__half"}, {Precision::BF16, "__nv_bfloat16"}};
  for (const auto& [p, type] : cases) {
    SCOPED_TRACE(precision_name(p));
    EXPECT_EQ(maxpool2d_launch(s, p).kernel, "maxpool2d<" + type + ">");
    EXPECT_EQ(avgpool2d_launch(s, p).kernel, "avgpool2d<" + type + ">");
    EXPECT_EQ(maxpool2d_launch(s, p).grid.x, maxpool2d_launch(s).grid.x);
    const LaunchGeometry gg = global_avgpool_launch(2, 9, 49, p);
    EXPECT_EQ(gg.kernel, "global_avgpool<" + type + ">");
    EXPECT_EQ(gg.grid.x, 3u);
    EXPECT_EQ(gg.block.x, 256u);
  }
}

}  // namespace
}  // namespace dstack::kernels
