#pragma once
// Where every tensor of a model lives in device memory, decided on the CPU before anything is
// allocated: all weights in one block (uploaded once per model), all activations of one batch size
// in a second block, activations whose lifetimes do not overlap sharing bytes. The GPU runtime
// allocates exactly these two blocks per (model, batch); the simulator and the batch optimizer read
// the same numbers to know what a batch size costs in memory.
#include <cstdint>
#include <string>
#include <vector>

#include "models/graph.h"

namespace dstack {

struct MemoryPlan {
  int64_t batch = 1;
  int element_bytes = 4;       // storage size of one activation/weight element at the plan's precision
  int64_t alignment = 256;     // every offset is a multiple of this (cudaMalloc's own alignment)

  int64_t weight_bytes = 0;              // size of the weight block
  int64_t activation_bytes = 0;          // size of the activation block (the arena)
  int64_t activation_bytes_unshared = 0; // what one buffer per activation would take
  int64_t peak_live_bytes = 0;           // most bytes live at once: a lower bound for any arena

  // Per graph value (index = value id): offset into the weight block (constants), into the
  // activation block (inputs and node outputs), or -1 where the value has no storage of that kind.
  std::vector<int64_t> weight_offset;
  std::vector<int64_t> activation_offset;
  std::vector<int64_t> value_bytes;      // bytes of each value at this batch (aligned size not included)
  // A Reshape output shares its input's storage: alias_of[v] is the value it aliases (transitively
  // resolved to the value that owns the bytes), or -1.
  std::vector<int> alias_of;
  // The node index a value is written at (-1: graph input or constant) and the last node that
  // reads it (graph inputs and outputs: nodes().size(), i.e. they live to the end, so a run can be
  // replayed without uploading its inputs again).
  std::vector<int> first_use;
  std::vector<int> last_use;
};

// Embedding ids travel as float32 whatever the precision (fp16 holds integers exactly only up to
// 2048): true for values an Embedding reads as ids, directly or through Reshapes.
std::vector<bool> float32_values(const models::Graph& graph);

// Plans memory for `graph` at `batch` with elements of `element_bytes` (4, 2). Offsets are assigned
// greedily, largest activation first, each at the lowest aligned offset free for its whole lifetime
// (two activations share bytes only if no node both writes one and reads the other, so no kernel
// ever sees its output overlap an input). Throws models::GraphError for batch < 1 or an element size
// other than 2 or 4.
MemoryPlan plan_memory(const models::Graph& graph, int64_t batch, int element_bytes, int64_t alignment = 256);

// "weights 97.5 MiB, activations 12.3 MiB at batch 8 (unshared 140.0 MiB)".
std::string memory_plan_summary(const MemoryPlan& plan);

}  // namespace dstack
