#pragma once
// The importer's state while it walks an ONNX graph in node order: what each ONNX tensor name
// stands for, the node being converted (every error names it), and the bookkeeping that lets one
// node take over the nodes after it (Conv absorbing its BatchNormalization, Relu and residual Add).
// The per-op conversions (ops_*.cc) use only this interface.
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "models/model.h"
#include "models/onnx/onnx_proto.h"
#include "models/onnx/static_tensor.h"

namespace dstack::models::onnx_import {

// What an ONNX tensor name stands for: an activation in the graph, or a tensor known while loading.
struct Binding {
  int value = -1;         // activation value id (when `known` is null)
  bool int_data = false;  // an activation of float-encoded integers (token ids)
  std::shared_ptr<const StaticTensor> known;
  bool is_static() const { return known != nullptr; }
};

class Importer {
 public:
  Importer(const onnx::ModelProto& model, std::string path);
  Model run();

  // ---- the node being converted
  const onnx::NodeProto& node() const { return *node_; }
  int64_t opset() const { return opset_; }
  const std::string& path() const { return path_; }
  // The batch size the graph inputs declare when it is fixed rather than symbolic (0 if symbolic):
  // an exporter with a fixed batch writes it into Reshape targets as a literal.
  int64_t export_batch() const { return export_batch_; }
  [[noreturn]] void fail(const std::string& what) const;
  // Fails on an attribute not in `supported` (so an attribute we would ignore is never silently dropped).
  void check_attributes(std::initializer_list<std::string_view> supported) const;
  bool has_attr(std::string_view name) const;
  int64_t attr_int(std::string_view name, int64_t fallback) const;
  float attr_float(std::string_view name, float fallback) const;
  std::string attr_string(std::string_view name, const std::string& fallback) const;
  std::vector<int64_t> attr_ints(std::string_view name, std::vector<int64_t> fallback = {}) const;
  const onnx::TensorProto* attr_tensor(std::string_view name) const;

  // ---- inputs of the current node
  int input_count() const;  // without trailing omitted inputs
  bool has_input(int i) const;
  const Binding& input(int i) const;  // fails when the name is produced nowhere before this node
  bool input_is_static(int i) const { return input(i).is_static(); }
  bool all_inputs_static() const;
  const StaticTensor& static_input(int i, std::string_view what) const;
  std::vector<int64_t> static_ints(int i, std::string_view what) const;
  int activation(int i, std::string_view what) const;
  int value(int i);  // the activation, or the load-time tensor as a graph constant
  // Per-sample shape of a graph value. The reference dies with the next add_node: copy it to keep it.
  const Shape& per_sample(int value) const { return graph_.value(value).shape; }
  int rank(int value) const { return static_cast<int>(per_sample(value).size()) + 1; }  // with the batch

  // Any tensor by name: its binding if bound so far, whether anything consumes it.
  const Binding* binding(const std::string& name) const;
  const StaticTensor* known(const std::string& name) const;  // null unless bound to a load-time tensor
  bool tensor_used(const std::string& name) const;

  // ---- outputs of the current node
  bool output_used(int i) const;
  void require_unused_outputs_from(int first) const;
  void bind(const std::string& name, Binding b);
  void bind_value(const std::string& name, int value, bool int_data = false);
  void bind_output(int i, int value, bool int_data = false);
  void bind_static(int i, StaticTensor t);

  // ---- graph building (a GraphError becomes an OnnxError naming the node)
  int add_node(OpKind op, std::vector<int> inputs, Attrs attrs = {}, std::string_view suffix = {});
  int add_constant(const std::string& name, Shape shape, std::vector<float> data);
  std::string node_name() const;

  // ---- fusion
  // Index of the node that alone consumes `tensor` (once, not a graph output) if it has op type
  // `op_type` and no other node has taken it.
  std::optional<int> sole_consumer(const std::string& tensor, std::string_view op_type) const;
  const onnx::NodeProto& node_at(int index) const { return model_.graph().node(index); }
  void absorb(int index);  // the current node does node `index`'s work: skip it
  // Node `index` is replaced by `emit`, run when the walk reaches it, as the current node.
  void defer(int index, std::function<void()> emit);
  // The function of a Relu or Clip node (Clip's bounds must be known): nullopt otherwise.
  std::optional<ActivationParams> activation_of(const onnx::NodeProto& n) const;
  // When a Relu / Clip alone consumes `tensor`: absorbs it and moves `tensor` to its output.
  ActivationParams absorb_activation(std::string& tensor);

 private:
  void bind_initializers();
  void bind_inputs();
  void count_consumers();
  void convert_current();
  void bind_outputs();
  std::optional<const Binding*> lookup(const std::string& name) const;

  const onnx::ModelProto& model_;
  std::string path_;
  int64_t opset_ = 0;
  Graph graph_;
  int64_t param_count_ = 0;
  int64_t export_batch_ = 0;
  std::unordered_map<std::string, Binding> env_;
  std::unordered_map<std::string, int> constant_ids_;  // load-time tensors already in the graph
  std::unordered_map<std::string, std::vector<int>> consumers_;
  std::unordered_map<std::string, bool> graph_outputs_;
  std::vector<bool> taken_;                // absorbed, deferred or already converted
  std::map<int, std::pair<int, std::function<void()>>> deferred_;  // index -> (origin, emit)
  const onnx::NodeProto* node_ = nullptr;
  int node_index_ = -1;
};

}  // namespace dstack::models::onnx_import
