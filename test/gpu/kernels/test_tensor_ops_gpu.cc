// Data movement CUDA kernels against the CPU reference on seeded random inputs and odd shapes
// (1-sized dims, 4-D transposes, stepped slices, asymmetric pads, empty inputs, out-of-range and
// non-integer embedding ids, gathers of more indices than one launch takes), at every storage
// precision (typed tests; embedding ids stay fp32). All exact: they only move stored values (inputs
// are generated in fp32 and rounded to the storage type first).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/tensor_ops.h"
#include "kernels/tensor_ops_cuda.h"
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
using dstack::test::upload;
using dstack::test::upload_as;

template <typename T>
class TensorOpsGpu : public ::testing::Test {};
TYPED_TEST_SUITE(TensorOpsGpu, dstack::test::StorageTypes, dstack::test::StorageTypeNames);

using ktest::element_count;
using ktest::expect_close;
using ktest::kExact;
using ktest::random_vector;

TYPED_TEST(TensorOpsGpu, TransposeMatchesReference) {
  DSTACK_REQUIRE_GPU();
  using T = TypeParam;
  struct Case {
    std::vector<int64_t> shape;
    std::vector<int> perm;
  };
  const std::vector<Case> cases = {
      {{2, 3, 4, 5}, {0, 2, 3, 1}}, {{2, 3, 4, 5}, {3, 2, 1, 0}},  {{2, 3, 4, 5}, {1, 0, 3, 2}},
      {{1, 3, 1, 5}, {2, 3, 0, 1}}, {{7, 1}, {1, 0}},              {{5}, {0}},
      {{}, {}},                     {{33, 65}, {1, 0}},            {{2, 1, 3, 1, 2, 1, 2, 2}, {7, 6, 5, 4, 3, 2, 1, 0}},
      {{2, 12, 17, 8}, {0, 2, 1, 3}},  // BERT-style head split
  };
  cuda::Stream stream;
  uint32_t seed = 1;
  for (const Case& c : cases) {
    SCOPED_TRACE("case seed " + std::to_string(seed));
    const std::vector<float> x = rounded<T>(random_vector(element_count(c.shape), seed++));
    std::vector<float> ref(x.size());
    transpose_ref(c.shape, c.perm, x.data(), ref.data());
    const cuda::DeviceBuffer dx = upload_as<T>(x), dy = poisoned_as<T>(x.size());
    transpose_cuda(c.shape, c.perm, dx.as<T>(), dy.as<T>(), stream.get());
    stream.synchronize();
    expect_close(ref, download_as_float<T>(dy, x.size()), kExact, kExact);
  }
  EXPECT_THROW(transpose_cuda<T>(std::vector<int64_t>(9, 1), {0, 1, 2, 3, 4, 5, 6, 7, 8}, nullptr, nullptr, stream.get()),
               std::invalid_argument);
  EXPECT_THROW(transpose_cuda<T>({2, 3}, {1, 1}, nullptr, nullptr, stream.get()), std::invalid_argument);
}

TYPED_TEST(TensorOpsGpu, SliceMatchesReference) {
  DSTACK_REQUIRE_GPU();
  using T = TypeParam;
  struct Case {
    std::vector<int64_t> shape, starts, ends, steps;
  };
  const std::vector<Case> cases = {
      {{4, 5, 6}, {1, 0, 2}, {4, 5, 6}, {1, 2, 3}},
      {{4, 5, 6}, {0, 1, 5}, {4, 4, 6}, {3, 1, 1}},
      {{2, 3, 4, 5}, {1, 1, 0, 1}, {2, 3, 4, 5}, {1, 2, 3, 4}},
      {{9}, {2}, {9}, {7}},
      {{1, 1, 7}, {0, 0, 6}, {1, 1, 7}, {1, 1, 1}},
      {{3, 8}, {0, 0}, {3, 8}, {1, 1}},
      {{}, {}, {}, {}},
      {{2, 128, 768}, {0, 0, 0}, {2, 1, 768}, {1, 1, 1}},  // BERT [CLS] token
      {{4, 3}, {2, 1}, {1, 3}, {1, 1}},                    // empty: end < start
  };
  cuda::Stream stream;
  uint32_t seed = 10;
  for (const Case& c : cases) {
    SCOPED_TRACE("case seed " + std::to_string(seed));
    const std::vector<float> x = rounded<T>(random_vector(element_count(c.shape), seed++));
    const std::vector<int64_t> out = slice_out_shape(c.starts, c.ends, c.steps);
    const size_t n_out = static_cast<size_t>(element_count(out));
    std::vector<float> ref(n_out);
    slice_ref(c.shape, c.starts, c.ends, c.steps, x.data(), ref.data());
    const cuda::DeviceBuffer dx = upload_as<T>(x), dy = poisoned_as<T>(n_out);
    slice_cuda(c.shape, c.starts, c.ends, c.steps, dx.as<T>(), dy.as<T>(), stream.get());
    stream.synchronize();
    expect_close(ref, download_as_float<T>(dy, n_out), kExact, kExact);
  }
  EXPECT_THROW(slice_cuda<T>({4}, {0}, {5}, {1}, nullptr, nullptr, stream.get()), std::invalid_argument);
  EXPECT_THROW(slice_cuda<T>({4}, {0}, {4}, {0}, nullptr, nullptr, stream.get()), std::invalid_argument);
}

TYPED_TEST(TensorOpsGpu, PadMatchesReference) {
  DSTACK_REQUIRE_GPU();
  using T = TypeParam;
  struct Case {
    std::vector<int64_t> shape, begin, end;
  };
  const std::vector<Case> cases = {
      {{2, 3, 4}, {0, 1, 2}, {1, 0, 3}}, {{1, 2, 3, 4}, {0, 0, 1, 1}, {0, 0, 1, 1}}, {{5}, {3}, {0}},
      {{5}, {0}, {0}},                   {{1, 1}, {2, 0}, {0, 3}},                   {{}, {}, {}},
      {{2, 2, 1, 1, 1, 1, 1, 2}, {1, 0, 1, 0, 1, 0, 1, 0}, {0, 1, 0, 1, 0, 1, 0, 1}},
      {{2, 3, 17, 19}, {0, 0, 2, 1}, {0, 0, 1, 2}},
      {{0, 3}, {1, 1}, {1, 0}},  // empty input: the output is all padding
  };
  cuda::Stream stream;
  uint32_t seed = 20;
  for (const Case& c : cases) {
    SCOPED_TRACE("case seed " + std::to_string(seed));
    const std::vector<float> x = rounded<T>(random_vector(element_count(c.shape), seed++));
    std::vector<int64_t> out(c.shape.size());
    for (size_t d = 0; d < out.size(); ++d) out[d] = c.begin[d] + c.shape[d] + c.end[d];
    const size_t n_out = static_cast<size_t>(element_count(out));
    std::vector<float> ref(n_out);
    pad_ref(c.shape, c.begin, c.end, -7.5f, x.data(), ref.data());
    const cuda::DeviceBuffer dx = upload_as<T>(x), dy = poisoned_as<T>(n_out);
    pad_cuda(c.shape, c.begin, c.end, -7.5f, dx.as<T>(), dy.as<T>(), stream.get());
    stream.synchronize();
    expect_close(ref, download_as_float<T>(dy, n_out), kExact, kExact);
  }
  EXPECT_THROW(pad_cuda<T>({4}, {-1}, {0}, 0.f, nullptr, nullptr, stream.get()), std::invalid_argument);
}

TYPED_TEST(TensorOpsGpu, ConcatMatchesReference) {
  DSTACK_REQUIRE_GPU();
  using T = TypeParam;
  cuda::Stream stream;
  const std::vector<int64_t> base = {2, 3, 4, 5};
  uint32_t seed = 30;
  for (int axis = 0; axis < 4; ++axis) {
    for (int64_t middle : {int64_t(0), int64_t(7)}) {  // the middle input empty along the axis, or not
      SCOPED_TRACE("axis " + std::to_string(axis) + " middle " + std::to_string(middle));
      std::vector<std::vector<int64_t>> shapes = {base, base, base};
      shapes[0][size_t(axis)] = 1;
      shapes[1][size_t(axis)] = middle;
      std::vector<std::vector<float>> xs;
      std::vector<cuda::DeviceBuffer> dxs;
      std::vector<const float*> host_ptrs;
      std::vector<const T*> dev_ptrs;
      int64_t total = 0;
      for (const auto& s : shapes) {
        xs.push_back(rounded<T>(random_vector(element_count(s), seed++)));
        total += element_count(s);
      }
      for (const auto& x : xs) {
        host_ptrs.push_back(x.data());
        dxs.push_back(upload_as<T>(x));
      }
      for (const auto& d : dxs) dev_ptrs.push_back(d.as<T>());
      std::vector<float> ref(static_cast<size_t>(total));
      concat_ref(shapes, host_ptrs, axis, ref.data());
      const cuda::DeviceBuffer dy = poisoned_as<T>(ref.size());
      concat_cuda(shapes, dev_ptrs, axis, dy.as<T>(), stream.get());
      stream.synchronize();
      expect_close(ref, download_as_float<T>(dy, ref.size()), kExact, kExact);
    }
  }
  EXPECT_THROW(concat_cuda<T>({{2, 3}, {3, 3}}, {nullptr, nullptr}, 1, nullptr, stream.get()), std::invalid_argument);
  EXPECT_THROW(concat_cuda<T>({{2, 3}}, {nullptr}, 2, nullptr, stream.get()), std::invalid_argument);
}

// Runs gather_rows_cuda<T> with a fresh flag set to -1; returns the bad position it reports, and y.
template <typename T>
int64_t gather_rows_on_gpu(int64_t rows, int64_t dim, const std::vector<float>& table, const std::vector<float>& ids,
                           std::vector<float>& y) {
  cuda::Stream stream;
  const cuda::DeviceBuffer dtable = upload_as<T>(table), dids = upload(ids);  // ids stay fp32
  const cuda::DeviceBuffer dy = poisoned_as<T>(ids.size() * size_t(dim));
  cuda::DeviceBuffer dbad(sizeof(int));
  DSTACK_CUDA_CHECK(cudaMemsetAsync(dbad.data(), 0xFF, sizeof(int), stream.get()));  // -1: no bad id yet
  gather_rows_cuda(rows, dim, dtable.as<T>(), int64_t(ids.size()), dids.as<float>(), dy.as<T>(),
                   dbad.as<int>(), stream.get());
  stream.synchronize();
  int bad = -2;
  DSTACK_CUDA_CHECK(cudaMemcpy(&bad, dbad.data(), sizeof(int), cudaMemcpyDeviceToHost));
  y = download_as_float<T>(dy, ids.size() * size_t(dim));
  return bad;
}

TYPED_TEST(TensorOpsGpu, GatherRowsMatchesReference) {
  DSTACK_REQUIRE_GPU();
  using T = TypeParam;
  const int64_t rows = 50, dim = 33;
  const std::vector<float> table = rounded<T>(random_vector(rows * dim, 40));
  std::mt19937 rng(41);
  std::uniform_int_distribution<int> pick(0, int(rows) - 1);
  std::vector<float> ids(300);
  for (float& id : ids) id = float(pick(rng));
  ids[0] = 0.f, ids[1] = float(rows - 1), ids[2] = -0.f;
  std::vector<float> ref(ids.size() * size_t(dim)), got;
  ASSERT_EQ(gather_rows_ref(rows, dim, table.data(), int64_t(ids.size()), ids.data(), ref.data()), -1);
  EXPECT_EQ(gather_rows_on_gpu<T>(rows, dim, table, ids, got), -1);
  expect_close(ref, got, kExact, kExact);

  // dim 1 and a single id.
  const std::vector<float> small_table = {3.f, 1.f, 4.f};  // exact in every storage type
  std::vector<float> small_ref(1);
  ASSERT_EQ(gather_rows_ref(3, 1, small_table.data(), 1, std::vector<float>{2.f}.data(), small_ref.data()), -1);
  EXPECT_EQ(gather_rows_on_gpu<T>(3, 1, small_table, {2.f}, got), -1);
  expect_close(small_ref, got, kExact, kExact);
}

TYPED_TEST(TensorOpsGpu, GatherRowsReportsTheFirstBadIdAndWritesNothing) {
  DSTACK_REQUIRE_GPU();
  using T = TypeParam;
  const int64_t rows = 10, dim = 4;
  const std::vector<float> table = rounded<T>(random_vector(rows * dim, 42));
  const float bad_values[] = {-1.f, 10.f, 2.5f, NAN, INFINITY, 1e9f};
  for (float bad : bad_values) {
    SCOPED_TRACE("bad id " + std::to_string(bad));
    std::vector<float> ids(700, 3.f);
    ids[517] = bad;
    ids[650] = -4.f;  // a later bad id: the first one is reported
    std::vector<float> ref_y(ids.size() * size_t(dim), 0.f), got;
    const int64_t ref_bad = gather_rows_ref(rows, dim, table.data(), int64_t(ids.size()), ids.data(), ref_y.data());
    ASSERT_EQ(ref_bad, 517);
    EXPECT_EQ(gather_rows_on_gpu<T>(rows, dim, table, ids, got), ref_bad);
    // y untouched: still the NaN poison everywhere.
    EXPECT_TRUE(std::all_of(got.begin(), got.end(), [](float v) { return std::isnan(v); }));
  }
  // Count 0: nothing to check, success.
  std::vector<float> got;
  EXPECT_EQ(gather_rows_on_gpu<T>(rows, dim, table, {}, got), -1);
}

TYPED_TEST(TensorOpsGpu, GatherRowsFlagIsShared) {
  DSTACK_REQUIRE_GPU();
  using T = TypeParam;
  // Two lookups on one stream share one flag: a failure in the first survives the second, which
  // then writes nothing.
  const int64_t rows = 6, dim = 5;
  const std::vector<float> table = rounded<T>(random_vector(rows * dim, 43));
  const std::vector<float> bad_ids = {1.f, 2.f, 6.f, 0.f}, good_ids = {5.f, 4.f};
  cuda::Stream stream;
  const cuda::DeviceBuffer dtable = upload_as<T>(table), dbad_ids = upload(bad_ids), dgood_ids = upload(good_ids);
  const cuda::DeviceBuffer dy1 = poisoned_as<T>(bad_ids.size() * size_t(dim)), dy2 = poisoned_as<T>(good_ids.size() * size_t(dim));
  cuda::DeviceBuffer dflag(sizeof(int));
  DSTACK_CUDA_CHECK(cudaMemsetAsync(dflag.data(), 0xFF, sizeof(int), stream.get()));
  gather_rows_cuda(rows, dim, dtable.as<T>(), int64_t(bad_ids.size()), dbad_ids.as<float>(), dy1.as<T>(),
                   dflag.as<int>(), stream.get());
  gather_rows_cuda(rows, dim, dtable.as<T>(), int64_t(good_ids.size()), dgood_ids.as<float>(), dy2.as<T>(),
                   dflag.as<int>(), stream.get());
  stream.synchronize();
  int bad = -2;
  DSTACK_CUDA_CHECK(cudaMemcpy(&bad, dflag.data(), sizeof(int), cudaMemcpyDeviceToHost));
  EXPECT_EQ(bad, 2);
  const std::vector<float> y2 = download_as_float<T>(dy2, good_ids.size() * size_t(dim));
  EXPECT_TRUE(std::all_of(y2.begin(), y2.end(), [](float v) { return std::isnan(v); }));
  EXPECT_THROW(gather_rows_cuda<T>(rows, dim, nullptr, 1, nullptr, nullptr, nullptr, stream.get()), std::invalid_argument);
}

TYPED_TEST(TensorOpsGpu, GatherAxisMatchesReference) {
  DSTACK_REQUIRE_GPU();
  using T = TypeParam;
  struct Case {
    std::vector<int64_t> shape;
    int axis;
    int64_t num_indices;
  };
  // More than 128 indices (several launches), axis first / middle / last, repeated indices.
  const std::vector<Case> cases = {{{3, 200, 5}, 1, 300}, {{7, 4}, 0, 3}, {{2, 3, 9}, 2, 20},
                                   {{1, 1, 1}, 1, 1},     {{2, 5}, 1, 256}, {{2, 5}, 1, 0}};
  cuda::Stream stream;
  uint32_t seed = 60;
  for (const Case& c : cases) {
    SCOPED_TRACE("axis " + std::to_string(c.axis) + " indices " + std::to_string(c.num_indices));
    const std::vector<float> x = rounded<T>(random_vector(element_count(c.shape), seed));
    std::mt19937 rng(seed++);
    std::uniform_int_distribution<int64_t> pick(0, c.shape[size_t(c.axis)] - 1);
    std::vector<int64_t> indices(static_cast<size_t>(c.num_indices));
    for (int64_t& i : indices) i = pick(rng);
    std::vector<int64_t> out = c.shape;
    out[size_t(c.axis)] = c.num_indices;
    const size_t n_out = static_cast<size_t>(element_count(out));
    std::vector<float> ref(n_out);
    gather_axis_ref(c.shape, c.axis, indices, x.data(), ref.data());
    const cuda::DeviceBuffer dx = upload_as<T>(x), dy = poisoned_as<T>(n_out);
    gather_axis_cuda(c.shape, c.axis, indices, dx.as<T>(), dy.as<T>(), stream.get());
    stream.synchronize();
    expect_close(ref, download_as_float<T>(dy, n_out), kExact, kExact);
  }
  EXPECT_THROW(gather_axis_cuda<T>({2, 5}, 1, {5}, nullptr, nullptr, stream.get()), std::invalid_argument);
  EXPECT_THROW(gather_axis_cuda<T>({2, 5}, 1, {-1}, nullptr, nullptr, stream.get()), std::invalid_argument);
  EXPECT_THROW(gather_axis_cuda<T>({2, 5}, 2, {0}, nullptr, nullptr, stream.get()), std::invalid_argument);
}

}  // namespace
}  // namespace dstack::kernels
