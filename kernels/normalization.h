#pragma once
// Softmax and layer norm over the last axis of a [rows, cols] view.
#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/host_device.h"
#include "kernels/launch.h"
#include "kernels/precision.h"

namespace dstack::kernels {

// Numerically stable (max-subtracted) softmax of each row.
void softmax_ref(int64_t rows, int64_t cols, const float* x, float* y);
// y = (x - mean) / sqrt(var + eps) * gamma + beta per row; gamma/beta of length cols (null = 1/0).
void layernorm_ref(int64_t rows, int64_t cols, const float* x, const float* gamma, const float* beta, float eps,
                   float* y);
// Mean over the middle axis of an [outer, reduce, inner] view: y[o, i].
void reduce_mean_ref(int64_t outer, int64_t reduce, int64_t inner, const float* x, float* y);

// ---- CUDA kernels (kernels/normalization.cu): geometry and index maps, computable on the CPU ----
//
// "softmax_rows<T>" and "layernorm_rows<T>": one block per row (blocks grid-stride over rows past
// kNormMaxRowBlocks), blockDim a multiple of 32 up to kNormMaxThreads (one warp for rows of at most
// 32). Each thread strides over the row; reductions are warp shuffles, then one float per warp in
// shared memory (kNormSharedBytes, static). Softmax: max, then sum of exp(x - max), then write.
// Layer norm: mean, then the mean of squared deviations (two passes, in float), then write.
// "reduce_mean<T>": one thread per output y[o, i], grid-striding over outer * inner outputs,
// summing the reduce axis in order.
inline constexpr int kNormMaxThreads = 256;
inline constexpr int kNormWarp = 32;
inline constexpr unsigned kNormMaxRowBlocks = 1u << 20;
inline constexpr std::size_t kNormSharedBytes = sizeof(float) * (kNormMaxThreads / kNormWarp);
inline constexpr int kReduceMeanThreads = 256;
inline constexpr unsigned kReduceMeanMaxBlocks = 1u << 16;
static_assert(kNormMaxThreads % kNormWarp == 0, "whole warps");

// Threads per row block for rows of `cols` elements: cols rounded up to whole warps, at least one
// warp, at most kNormMaxThreads.
DSTACK_HD int norm_row_threads(int64_t cols) {
  if (cols >= kNormMaxThreads) return kNormMaxThreads;
  if (cols <= kNormWarp) return kNormWarp;
  return int((cols + kNormWarp - 1) / kNormWarp) * kNormWarp;
}
// Warps in a block of `threads` threads (threads a multiple of 32).
DSTACK_HD int norm_warps(int threads) { return (threads + kNormWarp - 1) / kNormWarp; }

// Flat output index of reduce_mean -> (o, i) with y[o * inner + i]; and the input offset of x[o, r, i].
struct ReduceMeanIndex {
  int64_t o;
  int64_t i;
};
DSTACK_HD ReduceMeanIndex reduce_mean_split(int64_t out_index, int64_t inner) {
  return {out_index / inner, out_index % inner};
}
DSTACK_HD int64_t reduce_mean_offset(int64_t o, int64_t r, int64_t i, int64_t reduce, int64_t inner) {
  return (o * reduce + r) * inner + i;
}

namespace detail {
inline LaunchGeometry norm_rows_launch(const char* kernel, int64_t rows, int64_t cols, Precision p) {
  if (rows < 0 || cols < 0)
    throw std::invalid_argument(std::string(kernel) + ": negative size (rows " + std::to_string(rows) + ", cols " +
                                std::to_string(cols) + ")");
  LaunchGeometry g;
  g.kernel = typed_kernel_name(kernel, p);
  const bool empty = rows == 0 || cols == 0;
  g.grid.x = empty ? 0u : (rows < int64_t(kNormMaxRowBlocks) ? unsigned(rows) : kNormMaxRowBlocks);
  g.block.x = unsigned(norm_row_threads(cols));
  g.shared_bytes = kNormSharedBytes;
  return g;
}
}  // namespace detail

// Geometry of "softmax_rows<T>" / "layernorm_rows<T>" (T the storage type of precision p; the
// reductions run in fp32 at every precision). Empty grid (nothing launched) when rows or cols is 0;
// std::invalid_argument for negative sizes.
inline LaunchGeometry softmax_launch(int64_t rows, int64_t cols, Precision p = Precision::F32) {
  return detail::norm_rows_launch("softmax_rows", rows, cols, p);
}
inline LaunchGeometry layernorm_launch(int64_t rows, int64_t cols, Precision p = Precision::F32) {
  return detail::norm_rows_launch("layernorm_rows", rows, cols, p);
}

// Geometry of "reduce_mean<T>": 256 threads, enough blocks for one output per thread up to
// kReduceMeanMaxBlocks (the kernel grid-strides beyond). Empty grid when there is no output.
inline LaunchGeometry reduce_mean_launch(int64_t outer, int64_t reduce, int64_t inner, Precision p = Precision::F32) {
  if (outer < 0 || reduce < 0 || inner < 0)
    throw std::invalid_argument("reduce_mean: negative size (outer " + std::to_string(outer) + ", reduce " +
                                std::to_string(reduce) + ", inner " + std::to_string(inner) + ")");
  LaunchGeometry g;
  g.kernel = typed_kernel_name("reduce_mean", p);
  const int64_t outputs = outer * inner;
  const int64_t blocks = (outputs + kReduceMeanThreads - 1) / kReduceMeanThreads;
  g.grid.x = blocks < int64_t(kReduceMeanMaxBlocks) ? unsigned(blocks) : kReduceMeanMaxBlocks;
  g.block.x = kReduceMeanThreads;
  g.shared_bytes = 0;
  return g;
}

}  // namespace dstack::kernels
