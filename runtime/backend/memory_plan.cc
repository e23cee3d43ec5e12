#include "runtime/backend/memory_plan.h"

#include <fmt/format.h>

#include <algorithm>

namespace dstack {
namespace {

using models::Graph;
using models::GraphError;
using models::OpKind;

int64_t align_up(int64_t bytes, int64_t alignment) { return (bytes + alignment - 1) / alignment * alignment; }

int root_of(const std::vector<int>& alias_of, int v) {
  while (alias_of[static_cast<size_t>(v)] >= 0) v = alias_of[static_cast<size_t>(v)];
  return v;
}

struct Placed {
  int64_t offset, bytes;
  int first, last;
};

bool lifetimes_overlap(const Placed& a, int first, int last) { return a.first <= last && first <= a.last; }

// Lowest aligned offset where [offset, offset + bytes) misses every placed block whose lifetime
// meets [first, last]. Candidates are 0 and the end of each conflicting block.
int64_t lowest_free_offset(const std::vector<Placed>& placed, int64_t bytes, int first, int last) {
  std::vector<const Placed*> conflicts;
  for (const Placed& p : placed)
    if (lifetimes_overlap(p, first, last)) conflicts.push_back(&p);
  std::sort(conflicts.begin(), conflicts.end(), [](const Placed* a, const Placed* b) { return a->offset < b->offset; });
  int64_t candidate = 0;
  for (const Placed* p : conflicts) {
    if (candidate + bytes <= p->offset) break;  // fits in the gap before p
    candidate = std::max(candidate, p->offset + p->bytes);
  }
  return candidate;
}

}  // namespace

std::vector<bool> float32_values(const Graph& g) {
  std::vector<bool> f32(g.values().size(), false);
  for (const models::Node& n : g.nodes())
    if (n.op == OpKind::Embedding && n.inputs.size() > 1) f32[static_cast<size_t>(n.inputs[1])] = true;
  // Walk back through Reshapes (nodes are in topological order, so one reverse pass suffices).
  for (auto it = g.nodes().rbegin(); it != g.nodes().rend(); ++it)
    if (it->op == OpKind::Reshape && f32[static_cast<size_t>(it->output)]) f32[static_cast<size_t>(it->inputs[0])] = true;
  return f32;
}

MemoryPlan plan_memory(const Graph& g, int64_t batch, int element_bytes, int64_t alignment) {
  if (batch < 1) throw GraphError(fmt::format("model '{}': batch must be at least 1 (got {})", g.name(), batch));
  if (element_bytes != 2 && element_bytes != 4)
    throw GraphError(fmt::format("model '{}': element size must be 2 or 4 bytes (got {})", g.name(), element_bytes));
  if (alignment < 1) throw GraphError(fmt::format("memory alignment must be positive (got {})", alignment));

  const size_t nv = g.values().size();
  const int end = static_cast<int>(g.nodes().size());
  MemoryPlan p;
  p.batch = batch;
  p.element_bytes = element_bytes;
  p.alignment = alignment;
  p.weight_offset.assign(nv, -1);
  p.activation_offset.assign(nv, -1);
  p.value_bytes.assign(nv, 0);
  p.alias_of.assign(nv, -1);
  p.first_use.assign(nv, -1);
  p.last_use.assign(nv, -1);

  const std::vector<bool> f32 = float32_values(g);
  for (size_t v = 0; v < nv; ++v) {
    const models::Value& value = g.value(static_cast<int>(v));
    const int64_t elems = models::num_elements(value.constant ? value.shape : models::full_shape(value, batch));
    p.value_bytes[v] = elems * (f32[v] ? 4 : element_bytes);
  }

  // Weights: one block, in value order.
  for (size_t v = 0; v < nv; ++v) {
    if (!g.value(static_cast<int>(v)).constant) continue;
    p.weight_offset[v] = p.weight_bytes;
    p.weight_bytes += align_up(p.value_bytes[v], alignment);
  }

  // Lifetimes, with Reshape outputs folded into the value that owns their bytes.
  for (int i = 0; i < end; ++i) {
    const models::Node& n = g.nodes()[static_cast<size_t>(i)];
    if (n.op == OpKind::Reshape && !g.value(n.inputs[0]).constant)
      p.alias_of[static_cast<size_t>(n.output)] = root_of(p.alias_of, n.inputs[0]);
    else
      p.first_use[static_cast<size_t>(n.output)] = i;
    for (int in : n.inputs) {
      if (g.value(in).constant) continue;
      const auto r = static_cast<size_t>(root_of(p.alias_of, in));
      p.last_use[r] = std::max(p.last_use[r], i);
    }
  }
  // Outputs live to the end; so do inputs, so that a run can be replayed (a CUDA graph launched
  // again, a benchmark loop) without uploading the inputs again.
  for (int out : g.outputs()) p.last_use[static_cast<size_t>(root_of(p.alias_of, out))] = end;
  for (int in : g.inputs()) {
    p.first_use[static_cast<size_t>(in)] = -1;
    p.last_use[static_cast<size_t>(in)] = end;
  }

  // Owners of activation bytes, largest first (ties by value id, so plans are deterministic).
  std::vector<int> owners;
  for (size_t v = 0; v < nv; ++v) {
    if (g.value(static_cast<int>(v)).constant || p.alias_of[v] >= 0) continue;
    // A value nobody reads still gets bytes: its producer writes it.
    if (p.last_use[v] < p.first_use[v]) p.last_use[v] = p.first_use[v];
    owners.push_back(static_cast<int>(v));
    p.activation_bytes_unshared += align_up(p.value_bytes[v], alignment);
  }
  std::stable_sort(owners.begin(), owners.end(), [&](int a, int b) {
    return p.value_bytes[static_cast<size_t>(a)] > p.value_bytes[static_cast<size_t>(b)];
  });
  std::vector<Placed> placed;
  for (int v : owners) {
    const auto u = static_cast<size_t>(v);
    const int64_t bytes = align_up(p.value_bytes[u], alignment);
    const int64_t offset = lowest_free_offset(placed, bytes, p.first_use[u], p.last_use[u]);
    placed.push_back({offset, bytes, p.first_use[u], p.last_use[u]});
    p.activation_offset[u] = offset;
    p.activation_bytes = std::max(p.activation_bytes, offset + bytes);
  }
  for (size_t v = 0; v < nv; ++v)
    if (p.alias_of[v] >= 0) p.activation_offset[v] = p.activation_offset[static_cast<size_t>(p.alias_of[v])];

  // Peak of live bytes over node steps (-1 = before the first node, when the inputs are live).
  for (int t = -1; t <= end; ++t) {
    int64_t live = 0;
    for (const Placed& b : placed)
      if (b.first <= t && t <= b.last) live += b.bytes;
    p.peak_live_bytes = std::max(p.peak_live_bytes, live);
  }
  return p;
}

std::string memory_plan_summary(const MemoryPlan& p) {
  auto mib = [](int64_t b) { return static_cast<double>(b) / (1024.0 * 1024.0); };
  return fmt::format("weights {:.1f} MiB, activations {:.1f} MiB at batch {} (unshared {:.1f} MiB, peak live {:.1f} MiB)",
                     mib(p.weight_bytes), mib(p.activation_bytes), p.batch, mib(p.activation_bytes_unshared),
                     mib(p.peak_live_bytes));
}

}  // namespace dstack
