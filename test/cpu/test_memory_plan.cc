#include <gtest/gtest.h>

#include "models/zoo.h"
#include "runtime/backend/memory_plan.h"

namespace dstack {
namespace {

using models::Graph;
using models::OpKind;

// x -> a -> b -> c (a chain of same-size unary ops) with a reshape between b and c.
Graph chain() {
  Graph g("chain");
  int x = g.add_input("x", {1000});
  models::Attrs relu;
  relu.unary = kernels::UnaryOp::Neg;
  int a = g.add_node("a", OpKind::Unary, {x}, relu);
  int b = g.add_node("b", OpKind::Unary, {a}, relu);
  models::Attrs r;
  r.shape = {10, 100};
  int rb = g.add_node("rb", OpKind::Reshape, {b}, r);
  int c = g.add_node("c", OpKind::Unary, {rb}, relu);
  g.mark_output(c);
  return g;
}

// Two values share bytes only when their lifetimes (first write .. last read, inclusive) are disjoint.
void expect_no_live_overlap(const Graph& g, const MemoryPlan& p) {
  const size_t nv = g.values().size();
  for (size_t u = 0; u < nv; ++u) {
    if (p.activation_offset[u] < 0 || p.alias_of[u] >= 0) continue;
    EXPECT_EQ(p.activation_offset[u] % p.alignment, 0) << g.value(static_cast<int>(u)).name;
    EXPECT_LE(p.activation_offset[u] + p.value_bytes[u], p.activation_bytes);
    for (size_t v = u + 1; v < nv; ++v) {
      if (p.activation_offset[v] < 0 || p.alias_of[v] >= 0) continue;
      const bool live_together = p.first_use[u] <= p.last_use[v] && p.first_use[v] <= p.last_use[u];
      const bool bytes_overlap = p.activation_offset[u] < p.activation_offset[v] + p.value_bytes[v] &&
                                 p.activation_offset[v] < p.activation_offset[u] + p.value_bytes[u];
      ASSERT_FALSE(live_together && bytes_overlap)
          << g.name() << ": '" << g.value(static_cast<int>(u)).name << "' and '" << g.value(static_cast<int>(v)).name
          << "' are live together and overlap";
    }
  }
}

TEST(MemoryPlan, ChainNeedsTwoBuffersAndReshapeAliases) {
  const Graph g = chain();
  const MemoryPlan p = plan_memory(g, 3, 4, 256);
  const int64_t one = 3 * 1000 * 4;  // 12000 bytes, aligned to 12032
  EXPECT_EQ(p.activation_bytes_unshared, 4 * 12032);  // x, a, b, c; rb aliases b
  EXPECT_EQ(p.activation_bytes, 3 * 12032);           // x (kept for replays), b, and a/c sharing
  EXPECT_EQ(p.value_bytes[1], one);
  const int b = 2, rb = 3;
  EXPECT_EQ(p.alias_of[static_cast<size_t>(rb)], b);
  EXPECT_EQ(p.activation_offset[static_cast<size_t>(rb)], p.activation_offset[static_cast<size_t>(b)]);
  // b is read (through rb) by c, node 3: its lifetime reaches there.
  EXPECT_EQ(p.last_use[static_cast<size_t>(b)], 3);
  EXPECT_EQ(p.weight_bytes, 0);
  EXPECT_EQ(p.peak_live_bytes, 3 * 12032);
  EXPECT_EQ(p.activation_offset[1], p.activation_offset[static_cast<size_t>(g.outputs()[0])]);  // a and c
  expect_no_live_overlap(g, p);
}

TEST(MemoryPlan, InputsAndOutputsLiveThroughTheWholeRun) {
  const Graph g = chain();
  const MemoryPlan p = plan_memory(g, 1, 2);
  EXPECT_EQ(p.first_use[0], -1);
  EXPECT_EQ(p.last_use[0], static_cast<int>(g.nodes().size()));
  EXPECT_EQ(p.last_use[static_cast<size_t>(g.outputs()[0])], static_cast<int>(g.nodes().size()));
  EXPECT_EQ(p.value_bytes[0], 2000);
}

TEST(MemoryPlan, RejectsBadArguments) {
  const Graph g = chain();
  EXPECT_THROW(plan_memory(g, 0, 4), models::GraphError);
  EXPECT_THROW(plan_memory(g, 1, 3), models::GraphError);
}

TEST(MemoryPlan, EveryZooModelIsSafeAndSmallerThanUnshared) {
  for (const models::ZooEntry& e : models::zoo()) {
    models::BuildOptions shapes_only;
    shapes_only.weights = false;
    const models::Model m = e.build(shapes_only);
    for (int64_t batch : {1, 8}) {
      for (int bytes : {4, 2}) {
        SCOPED_TRACE(e.name + " batch " + std::to_string(batch) + " element bytes " + std::to_string(bytes));
        const MemoryPlan p = plan_memory(m.graph, batch, bytes);
        expect_no_live_overlap(m.graph, p);
        EXPECT_GE(p.activation_bytes, p.peak_live_bytes);
        EXPECT_LT(p.activation_bytes, p.activation_bytes_unshared);
        EXPECT_GT(p.weight_bytes, 0);
        // Weights: every constant placed, disjoint and in order.
        int64_t next = 0;
        for (size_t v = 0; v < m.graph.values().size(); ++v) {
          if (!m.graph.value(static_cast<int>(v)).constant) continue;
          EXPECT_EQ(p.weight_offset[v], next);
          next += (p.value_bytes[v] + 255) / 256 * 256;
        }
        EXPECT_EQ(next, p.weight_bytes);
      }
    }
  }
}

TEST(MemoryPlan, EmbeddingIdsStayFloat32) {
  models::BuildOptions shapes_only;
  shapes_only.weights = false;
  const models::Model bert = models::build_zoo_model("bert_base", shapes_only);
  const std::vector<bool> f32 = float32_values(bert.graph);
  int ids = 0;
  for (size_t v = 0; v < f32.size(); ++v) ids += f32[v] ? 1 : 0;
  EXPECT_GE(ids, 1);
  const MemoryPlan half = plan_memory(bert.graph, 2, 2);
  for (size_t v = 0; v < f32.size(); ++v) {
    if (!f32[v]) continue;
    const int64_t elems = models::num_elements(models::full_shape(bert.graph.value(static_cast<int>(v)), 2));
    EXPECT_EQ(half.value_bytes[v], 4 * elems) << bert.graph.value(static_cast<int>(v)).name;
  }
}

}  // namespace
}  // namespace dstack
