#pragma once
// Lowering a graph for a batch size: the ordered kernel launches, with shapes, FLOPs, bytes and the
// launches each one waits for. The parallelism model, the simulator and the executors all read this.
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/launch.h"
#include "kernels/precision.h"
#include "models/graph.h"

namespace dstack::models {

struct KernelLaunch {
  int node = -1;              // index into graph.nodes()
  std::string name;           // the node's name
  OpKind op{};
  std::string detail;         // e.g. "3x3/2 g1 relu +res", "gelu", "[64,128]x[128,128]"
  std::vector<Shape> input_shapes;  // full shapes, constants included
  Shape output_shape;
  int64_t flops = 0;          // multiply-add = 2 flops; see flop_count() for each op's rule
  int64_t bytes_read = 0;     // at the plan's precision, each input (weights too) read once; embedding ids 4 bytes
  int64_t bytes_written = 0;  // at the plan's precision, the output written once
  std::vector<int> deps;      // indices of earlier launches whose outputs this one reads
  // The CUDA launches dstack's kernels make for this node (grid, block, shared memory), from the
  // same launch functions the kernels' launchers call; usually one, several for concat (one per
  // input), embedding (check + copy) and long index lists of gather. At the plan's precision: the
  // kernel names say the storage type, and fp16 / bf16 GEMM and convolution take tensor-core kernels.
  std::vector<kernels::LaunchGeometry> launches;
};

struct Plan {
  std::string model;
  int64_t batch = 1;
  kernels::Precision precision = kernels::Precision::F32;  // storage type of every tensor
  std::vector<KernelLaunch> kernels;

  int64_t total_flops() const;
  int64_t total_bytes() const;
};

// Reshapes (and Flatten) launch no kernel: they alias their input, so a consumer depends on the
// launch that produced the reshaped data. Throws GraphError for batch < 1. `precision` is the
// storage type of every tensor (accumulation stays fp32): it sets the bytes moved and the kernels.
Plan lower(const Graph& graph, int64_t batch, kernels::Precision precision = kernels::Precision::F32);

// The CUDA launches of one node at the given full input/output shapes and precision (empty for
// zero-size work).
std::vector<kernels::LaunchGeometry> cuda_launches(const Node& node, const std::vector<Shape>& inputs,
                                                   const Shape& output,
                                                   kernels::Precision precision = kernels::Precision::F32);

// FLOPs of one node at the given full input/output shapes.
int64_t flop_count(const Node& node, const std::vector<Shape>& inputs, const Shape& output);

}  // namespace dstack::models
