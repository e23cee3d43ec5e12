// Pooling CUDA kernels against the CPU reference on seeded random inputs and ONNX edge cases
// (ceil_mode with asymmetric pads, count_include_pad both ways, 1x1, stride > kernel).
// Every case at every storage precision (typed tests): inputs rounded to the storage type before the
// reference sees them, sums in fp32, one rounding on store.
// Tolerances: max pooling exact at every precision (the max of stored values is one of them);
// average pooling ktest::kMathAtol / kMathRtol at fp32 (the kernel sums in the reference's order, so
// it is usually exact too); global average pooling kMathAtol / kMathRtol at fp32 (a warp-tree sum,
// a different order); at fp16 / bf16 ktest::storage_tolerance (the means are O(1) averages, one
// rounding of an fp32 value a few ulps off).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/pooling.h"
#include "kernels/pooling_cuda.h"
#include "runtime/backend/cuda/check.h"
#include "runtime/backend/cuda/resources.h"
#include "test/gpu/device_data.h"
#include "test/gpu/gpu_test_env.h"
#include "test/kernels/test_data.h"
#include "test/kernels/tolerance.h"

namespace dstack::kernels {
namespace {

using dstack::test::download_as_float;
using dstack::test::poisoned_as;
using dstack::test::rounded;
using dstack::test::upload_as;

using ktest::expect_close;
using ktest::kExact;
using ktest::kMathAtol;
using ktest::kMathRtol;
using ktest::random_vector;

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
    v.push_back(shape(2, 16, 33, 31, 3, 3, 2, 2, 1, 1, 1, 1, true, include_pad)); // several blocks
  }
  return v;
}

template <typename T>
class PoolingGpu : public ::testing::Test {};
TYPED_TEST_SUITE(PoolingGpu, dstack::test::StorageTypes, dstack::test::StorageTypeNames);

template <typename T>
ktest::Tolerance mean_tolerance() {
  return ktest::storage_tolerance(precision_of<T>(), {kMathAtol, kMathRtol});
}

TYPED_TEST(PoolingGpu, MaxAndAverageMatchReference) {
  DSTACK_REQUIRE_GPU();
  using T = TypeParam;
  cuda::Stream stream;
  uint32_t seed = 1;
  for (const Pool2dShape& s : odd_shapes()) {
    ASSERT_EQ(pool2d_shape_error(s), nullptr);
    SCOPED_TRACE("shape seed " + std::to_string(seed) + " out " + std::to_string(s.out_h()) + "x" +
                 std::to_string(s.out_w()) + (s.ceil_mode ? " ceil" : "") + (s.count_include_pad ? " incl-pad" : ""));
    const std::vector<float> x = rounded<T>(random_vector(int64_t(s.n) * s.c * s.h * s.w, seed++));
    const size_t out = size_t(s.n) * size_t(s.c) * size_t(s.out_h()) * size_t(s.out_w());
    std::vector<float> ref_max(out), ref_avg(out);
    maxpool2d_ref(s, x.data(), ref_max.data());
    avgpool2d_ref(s, x.data(), ref_avg.data());
    const cuda::DeviceBuffer dx = upload_as<T>(x), dmax = poisoned_as<T>(out), davg = poisoned_as<T>(out);
    maxpool2d_cuda(s, dx.as<T>(), dmax.as<T>(), stream.get());
    avgpool2d_cuda(s, dx.as<T>(), davg.as<T>(), stream.get());
    stream.synchronize();
    expect_close(ref_max, download_as_float<T>(dmax, out), kExact, kExact);
    expect_close(ref_avg, download_as_float<T>(davg, out), mean_tolerance<T>());
  }
}

TYPED_TEST(PoolingGpu, RejectsInvalidShapesAndSkipsEmptyOnes) {
  DSTACK_REQUIRE_GPU();
  using T = TypeParam;
  cuda::Stream stream;
  const Pool2dShape pad_too_big = shape(1, 1, 5, 5, 2, 2, 1, 1, 2, 0, 0, 0, false, false);
  EXPECT_THROW(maxpool2d_cuda<T>(pad_too_big, nullptr, nullptr, stream.get()), std::invalid_argument);
  EXPECT_THROW(avgpool2d_cuda<T>(pad_too_big, nullptr, nullptr, stream.get()), std::invalid_argument);
  const Pool2dShape kernel_too_big = shape(1, 1, 3, 3, 5, 5, 1, 1, 0, 0, 0, 0, false, false);
  EXPECT_THROW(maxpool2d_cuda<T>(kernel_too_big, nullptr, nullptr, stream.get()), std::invalid_argument);
  EXPECT_THROW(global_avgpool_cuda<T>(1, 2, 0, nullptr, nullptr, stream.get()), std::invalid_argument);
  const Pool2dShape no_batch = shape(0, 3, 5, 5, 2, 2, 1, 1, 0, 0, 0, 0, false, false);
  EXPECT_NO_THROW(maxpool2d_cuda<T>(no_batch, nullptr, nullptr, stream.get()));
  EXPECT_NO_THROW(global_avgpool_cuda<T>(0, 3, 49, nullptr, nullptr, stream.get()));
  stream.synchronize();
  DSTACK_CUDA_CHECK(cudaGetLastError());
}

TYPED_TEST(PoolingGpu, GlobalAverageMatchesReference) {
  DSTACK_REQUIRE_GPU();
  using T = TypeParam;
  struct Case {
    int n, c, hw;
  };
  // 1-element planes, planes shorter and longer than a warp, more planes than 8 per block, a big plane.
  const std::vector<Case> cases = {{1, 1, 1}, {2, 3, 49}, {1, 5, 1}, {3, 7, 31}, {2, 9, 33}, {1, 1, 3136},
                                   {4, 130, 7}, {1, 2, 100000}};
  cuda::Stream stream;
  uint32_t seed = 50;
  for (const Case& c : cases) {
    SCOPED_TRACE("n " + std::to_string(c.n) + " c " + std::to_string(c.c) + " hw " + std::to_string(c.hw));
    const std::vector<float> x = rounded<T>(random_vector(int64_t(c.n) * c.c * c.hw, seed++));
    const size_t planes = size_t(c.n) * size_t(c.c);
    std::vector<float> ref(planes);
    global_avgpool_ref(c.n, c.c, c.hw, x.data(), ref.data());
    const cuda::DeviceBuffer dx = upload_as<T>(x), dy = poisoned_as<T>(planes);
    global_avgpool_cuda(c.n, c.c, c.hw, dx.as<T>(), dy.as<T>(), stream.get());
    stream.synchronize();
    expect_close(ref, download_as_float<T>(dy, planes), mean_tolerance<T>());
  }
}

}  // namespace
}  // namespace dstack::kernels
