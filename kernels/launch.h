#pragma once
// Launch geometry of a kernel, computed on the CPU by one function per kernel family. The CUDA
// launcher, the plan and the simulator all take it from that function, so they cannot disagree.
#include <cstddef>
#include <string>

namespace dstack::kernels {

struct Dim3 {
  unsigned x = 1, y = 1, z = 1;
  unsigned long long count() const { return 1ull * x * y * z; }
};

struct LaunchGeometry {
  std::string kernel;            // the __global__ function's name, e.g. "conv2d_implicit_gemm_f32"
  Dim3 grid;
  Dim3 block;
  std::size_t shared_bytes = 0;  // dynamic + static shared memory per block
};

}  // namespace dstack::kernels
