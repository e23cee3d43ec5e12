#pragma once
// Launch geometry of a kernel, computed on the CPU by one function per kernel family. The CUDA
// launcher, the plan and the simulator all take it from that function, so they cannot disagree.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

namespace dstack::kernels {

struct Dim3 {
  unsigned x = 1, y = 1, z = 1;
  unsigned long long count() const { return 1ull * x * y * z; }
};

struct LaunchGeometry {
  // The __global__ function's demangled name without namespaces or parameter list, e.g.
  // "conv2d_implicit_gemm<float>", "gemm_tc<__half>" (see typed_kernel_name in kernels/precision.h).
  std::string kernel;
  Dim3 grid;
  Dim3 block;
  std::size_t shared_bytes = 0;  // dynamic + static shared memory per block
};

// The geometry of a grid-stride kernel over `count` elements: `block` threads per block and
// min(ceil(count / block), grid_cap) blocks, the loop covering the rest. count <= 0 gives grid.x == 0,
// which every launcher reads as "nothing to launch".
inline LaunchGeometry grid_stride_launch(const char* kernel, int64_t count, unsigned block, unsigned grid_cap) {
  LaunchGeometry g;
  g.kernel = kernel;
  g.block.x = block;
  const int64_t blocks = count > 0 ? (count + block - 1) / block : 0;
  g.grid.x = static_cast<unsigned>(std::min<int64_t>(blocks, grid_cap));
  return g;
}

}  // namespace dstack::kernels
