#include "models/onnx/importer.h"

#include <filesystem>
#include <set>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <limits>

#include "models/onnx/onnx_import.h"
#include "models/onnx/ops.h"
#include "models/onnx/tensor_proto.h"

namespace dstack::models::onnx_import {

namespace {

constexpr int64_t kMinOpset = 11, kMaxOpset = 17;

bool default_domain(const std::string& d) { return d.empty() || d == "ai.onnx"; }

}  // namespace

Importer::Importer(const onnx::ModelProto& model, std::string path)
    : model_(model), path_(std::move(path)), graph_(std::filesystem::path(path_).stem().string()) {}

// ---- errors and attributes -----------------------------------------------------------------------

void Importer::fail(const std::string& what) const {
  if (node_ == nullptr) throw OnnxError(fmt::format("{}: {}", path_, what));
  throw OnnxError(fmt::format("{}: node #{} '{}' ({}): {}", path_, node_index_,
                              node_->name().empty() ? "(unnamed)" : node_->name(), node_->op_type(), what));
}

std::string Importer::node_name() const {
  return node_->name().empty() ? fmt::format("{}_{}", node_->op_type(), node_index_) : node_->name();
}

void Importer::check_attributes(std::initializer_list<std::string_view> supported) const {
  for (const onnx::AttributeProto& a : node_->attribute())
    if (std::find(supported.begin(), supported.end(), a.name()) == supported.end())
      fail(supported.size() == 0
               ? fmt::format("unsupported attribute '{}' (this op takes none)", a.name())
               : fmt::format("unsupported attribute '{}' (supported: {})", a.name(), fmt::join(supported, ", ")));
}

namespace {

const onnx::AttributeProto* find_attr(const onnx::NodeProto& n, std::string_view name) {
  for (const onnx::AttributeProto& a : n.attribute())
    if (a.name() == name) return &a;
  return nullptr;
}

}  // namespace

bool Importer::has_attr(std::string_view name) const { return find_attr(*node_, name) != nullptr; }

int64_t Importer::attr_int(std::string_view name, int64_t fallback) const {
  const onnx::AttributeProto* a = find_attr(*node_, name);
  if (!a) return fallback;
  if (a->type() != onnx::AttributeProto_AttributeType_INT) fail(fmt::format("attribute '{}' must be an int", name));
  return a->i();
}

float Importer::attr_float(std::string_view name, float fallback) const {
  const onnx::AttributeProto* a = find_attr(*node_, name);
  if (!a) return fallback;
  if (a->type() != onnx::AttributeProto_AttributeType_FLOAT) fail(fmt::format("attribute '{}' must be a float", name));
  return a->f();
}

std::string Importer::attr_string(std::string_view name, const std::string& fallback) const {
  const onnx::AttributeProto* a = find_attr(*node_, name);
  if (!a) return fallback;
  if (a->type() != onnx::AttributeProto_AttributeType_STRING) fail(fmt::format("attribute '{}' must be a string", name));
  return a->s();
}

std::vector<int64_t> Importer::attr_ints(std::string_view name, std::vector<int64_t> fallback) const {
  const onnx::AttributeProto* a = find_attr(*node_, name);
  if (!a) return fallback;
  if (a->type() != onnx::AttributeProto_AttributeType_INTS) fail(fmt::format("attribute '{}' must be a list of ints", name));
  return {a->ints().begin(), a->ints().end()};
}

const onnx::TensorProto* Importer::attr_tensor(std::string_view name) const {
  const onnx::AttributeProto* a = find_attr(*node_, name);
  if (!a) return nullptr;
  if (a->type() != onnx::AttributeProto_AttributeType_TENSOR) fail(fmt::format("attribute '{}' must be a tensor", name));
  return &a->t();
}

// ---- inputs --------------------------------------------------------------------------------------

int Importer::input_count() const {
  int n = node_->input_size();
  while (n > 0 && node_->input(n - 1).empty()) --n;
  return n;
}

bool Importer::has_input(int i) const { return i < node_->input_size() && !node_->input(i).empty(); }

std::optional<const Binding*> Importer::lookup(const std::string& name) const {
  auto it = env_.find(name);
  if (it == env_.end()) return std::nullopt;
  return &it->second;
}

const Binding& Importer::input(int i) const {
  if (!has_input(i)) fail(fmt::format("input {} is missing", i));
  const std::string& name = node_->input(i);
  auto b = lookup(name);
  if (!b)
    fail(fmt::format("input '{}' is not produced by any earlier node, initializer or graph input "
                     "(a dangling input or a missing initializer)", name));
  return **b;
}

bool Importer::all_inputs_static() const {
  for (int i = 0; i < node_->input_size(); ++i)
    if (has_input(i) && !input(i).is_static()) return false;
  return true;
}

const StaticTensor& Importer::static_input(int i, std::string_view what) const {
  if (!has_input(i)) fail(fmt::format("{} (input {}) is missing", what, i));
  const Binding& b = input(i);
  if (!b.is_static())
    fail(fmt::format("{} ('{}') must be a constant or computable while loading; here it is computed at run time",
                     what, node_->input(i)));
  return *b.known;
}

std::vector<int64_t> Importer::static_ints(int i, std::string_view what) const {
  const StaticTensor& t = static_input(i, what);
  try {
    return known_ints(t);
  } catch (const StaticError& e) {
    fail(fmt::format("{} ('{}'): {}", what, node_->input(i), e.what()));
  }
}

int Importer::activation(int i, std::string_view what) const {
  const Binding& b = input(i);
  if (b.is_static())
    fail(fmt::format("{} ('{}') is a constant ({}); this op needs it computed at run time (an activation)", what,
                     node_->input(i), describe(*b.known)));
  return b.value;
}

int Importer::value(int i) {
  const Binding& b = input(i);
  if (!b.is_static()) return b.value;
  const std::string& name = node_->input(i);
  if (auto it = constant_ids_.find(name); it != constant_ids_.end()) return it->second;
  std::vector<float> data;
  try {
    data = as_floats(*b.known);
  } catch (const StaticError& e) {
    fail(fmt::format("input '{}': {}", name, e.what()));
  }
  int id = add_constant(name, b.known->shape, std::move(data));
  constant_ids_[name] = id;
  return id;
}

const Binding* Importer::binding(const std::string& name) const {
  auto b = lookup(name);
  return b ? *b : nullptr;
}

const StaticTensor* Importer::known(const std::string& name) const {
  const Binding* b = binding(name);
  return b && b->is_static() ? b->known.get() : nullptr;
}

bool Importer::tensor_used(const std::string& name) const {
  return !name.empty() && (consumers_.count(name) > 0 || graph_outputs_.count(name) > 0);
}

// ---- outputs -------------------------------------------------------------------------------------

bool Importer::output_used(int i) const { return i < node_->output_size() && tensor_used(node_->output(i)); }

void Importer::require_unused_outputs_from(int first) const {
  for (int i = first; i < node_->output_size(); ++i)
    if (output_used(i))
      fail(fmt::format("output {} ('{}') is used; only output 0 is supported (inference)", i, node_->output(i)));
}

void Importer::bind(const std::string& name, Binding b) {
  if (!name.empty()) env_[name] = std::move(b);
}

void Importer::bind_value(const std::string& name, int value, bool int_data) {
  bind(name, Binding{value, int_data, nullptr});
}

void Importer::bind_output(int i, int value, bool int_data) {
  if (i < node_->output_size()) bind_value(node_->output(i), value, int_data);
}

void Importer::bind_static(int i, StaticTensor t) {
  if (i < node_->output_size())
    bind(node_->output(i), Binding{-1, false, std::make_shared<const StaticTensor>(std::move(t))});
}

int Importer::add_node(OpKind op, std::vector<int> inputs, Attrs attrs, std::string_view suffix) {
  const std::string name = node_name() + std::string(suffix);
  try {
    return graph_.add_node(name, op, std::move(inputs), std::move(attrs));
  } catch (const GraphError& e) {
    // The graph names its node and op ("node 'x' (Binary): ..."); ours says it the ONNX way, so
    // keep the graph's op only when it differs from the ONNX op.
    std::string what = e.what();
    const std::string prefix = fmt::format("node '{}' ({}): ", name, op_name(op));
    if (what.rfind(prefix, 0) == 0)
      what = (suffix.empty() ? "" : fmt::format("in the {} {} it becomes: ", name, op_name(op))) + what.substr(prefix.size());
    fail(what);
  }
}

int Importer::add_constant(const std::string& name, Shape shape, std::vector<float> data) {
  try {
    return graph_.add_constant(name, std::move(shape), std::move(data));
  } catch (const GraphError& e) {
    fail(e.what());
  }
}

// ---- fusion --------------------------------------------------------------------------------------

std::optional<int> Importer::sole_consumer(const std::string& tensor, std::string_view op_type) const {
  if (tensor.empty() || graph_outputs_.count(tensor)) return std::nullopt;
  auto it = consumers_.find(tensor);
  if (it == consumers_.end() || it->second.size() != 1) return std::nullopt;
  const int index = it->second[0];
  const onnx::NodeProto& n = node_at(index);
  if (taken_[static_cast<size_t>(index)] || n.op_type() != op_type || !default_domain(n.domain())) return std::nullopt;
  return index;
}

void Importer::absorb(int index) { taken_[static_cast<size_t>(index)] = true; }

void Importer::defer(int index, std::function<void()> emit) {
  taken_[static_cast<size_t>(index)] = true;
  deferred_[index] = {node_index_, std::move(emit)};
}

std::optional<ActivationParams> Importer::activation_of(const onnx::NodeProto& n) const {
  if (!default_domain(n.domain()) || n.attribute_size() != 0 || n.output_size() != 1) return std::nullopt;
  if (n.op_type() == "Relu" && n.input_size() == 1) return ActivationParams{Activation::Relu};
  if (n.op_type() != "Clip" || n.input_size() < 1 || n.input_size() > 3) return std::nullopt;
  float bound[2] = {std::numeric_limits<float>::lowest(), std::numeric_limits<float>::max()};
  for (int k = 1; k < n.input_size(); ++k) {
    if (n.input(k).empty()) continue;
    auto b = lookup(n.input(k));
    if (!b || !(*b)->is_static() || (*b)->known->size() != 1) return std::nullopt;
    bound[k - 1] = as_floats(*(*b)->known)[0];
  }
  if (bound[0] == 0.f && bound[1] == 6.f) return ActivationParams{Activation::Relu6, 0.f, 6.f};
  return ActivationParams{Activation::Clip, bound[0], bound[1]};
}

ActivationParams Importer::absorb_activation(std::string& tensor) {
  for (std::string_view op : {"Relu", "Clip"}) {
    std::optional<int> index = sole_consumer(tensor, op);
    if (!index || node_at(*index).input(0) != tensor) continue;
    if (std::optional<ActivationParams> act = activation_of(node_at(*index))) {
      absorb(*index);
      tensor = node_at(*index).output(0);
      return *act;
    }
  }
  return {};
}

// ---- the walk ------------------------------------------------------------------------------------

void Importer::bind_initializers() {
  // Batch-norm running statistics are buffers, not parameters: left out of param_count as
  // torchvision leaves them out, so the count compares with the framework's.
  std::set<std::string> running_stats;
  for (const onnx::NodeProto& n : model_.graph().node())
    if (n.op_type() == "BatchNormalization")
      for (int i = 3; i < std::min(5, n.input_size()); ++i) running_stats.insert(n.input(i));
  for (const onnx::TensorProto& t : model_.graph().initializer()) {
    if (t.name().empty()) fail("an initializer has no name");
    StaticTensor decoded;
    try {
      decoded = decode_tensor(t);
    } catch (const StaticError& e) {
      fail(fmt::format("initializer: {}", e.what()));
    }
    if (is_float_type(t.data_type()) && !running_stats.contains(t.name())) param_count_ += decoded.size();
    env_[t.name()] = Binding{-1, false, std::make_shared<const StaticTensor>(std::move(decoded))};
  }
  if (model_.graph().sparse_initializer_size() > 0) fail("sparse initializers are not supported");
}

void Importer::bind_inputs() {
  for (const onnx::ValueInfoProto& in : model_.graph().input()) {
    if (env_.count(in.name())) continue;  // an initializer listed as an input (IR version < 4)
    if (!in.type().has_tensor_type()) fail(fmt::format("graph input '{}' is not a tensor", in.name()));
    const onnx::TypeProto_Tensor& tt = in.type().tensor_type();
    const int32_t elem = tt.elem_type();
    const bool is_int = !is_float_type(elem);
    if (is_int && elem != onnx::TensorProto_DataType_INT64 && elem != onnx::TensorProto_DataType_INT32)
      fail(fmt::format("graph input '{}' has element type {}; float types, int64 and int32 are supported", in.name(),
                       data_type_name(elem)));
    if (!tt.has_shape() || tt.shape().dim_size() == 0)
      fail(fmt::format("graph input '{}' has no shape (its dim 0 must be the batch, the rest fixed)", in.name()));
    if (graph_.inputs().empty() && tt.shape().dim(0).has_dim_value() && tt.shape().dim(0).dim_value() > 0)
      export_batch_ = tt.shape().dim(0).dim_value();
    Shape per_sample;
    for (int d = 1; d < tt.shape().dim_size(); ++d) {
      const onnx::TensorShapeProto_Dimension& dim = tt.shape().dim(d);
      if (!dim.has_dim_value() || dim.dim_value() <= 0)
        fail(fmt::format("graph input '{}' has a dynamic dim {} ('{}'); only dim 0, the batch, may be dynamic",
                         in.name(), d, dim.has_dim_param() ? dim.dim_param() : std::string("?")));
      per_sample.push_back(dim.dim_value());
    }
    int id;
    try {
      id = graph_.add_input(in.name(), per_sample);
    } catch (const GraphError& e) {
      fail(e.what());
    }
    env_[in.name()] = Binding{id, is_int, nullptr};
  }
  if (graph_.inputs().empty()) fail("the graph has no inputs (besides initializers)");
}

void Importer::count_consumers() {
  const onnx::GraphProto& g = model_.graph();
  for (int i = 0; i < g.node_size(); ++i)
    for (const std::string& name : g.node(i).input())
      if (!name.empty()) consumers_[name].push_back(i);
  for (const onnx::ValueInfoProto& out : g.output()) graph_outputs_[out.name()] = true;
}

void Importer::convert_current() {
  const onnx::NodeProto& n = *node_;
  const auto& table = converters();
  auto it = table.find(n.op_type());
  if (!default_domain(n.domain()) || it == table.end())
    fail(fmt::format("unsupported op '{}{}'; supported ops: {}", default_domain(n.domain()) ? "" : n.domain() + "::",
                     n.op_type(), supported_op_list()));
  try {
    it->second(*this);
  } catch (const OnnxError&) {
    throw;
  } catch (const std::exception& e) {  // StaticError and anything unforeseen: still one clear message
    fail(e.what());
  }
}

void Importer::bind_outputs() {
  node_ = nullptr;
  for (const onnx::ValueInfoProto& out : model_.graph().output()) {
    auto b = lookup(out.name());
    if (!b) fail(fmt::format("graph output '{}' is not produced by any node", out.name()));
    if ((*b)->is_static())
      fail(fmt::format("graph output '{}' is a constant ({}); outputs must depend on the inputs", out.name(),
                       describe(*(*b)->known)));
    try {
      graph_.mark_output((*b)->value);
    } catch (const GraphError& e) {
      fail(e.what());
    }
  }
  if (graph_.outputs().empty()) fail("the graph has no outputs");
}

Model Importer::run() {
  if (!model_.has_graph()) fail("the file holds no graph (an empty or non-ONNX file?)");
  for (const onnx::OperatorSetIdProto& os : model_.opset_import())
    if (default_domain(os.domain())) opset_ = os.version();
  if (opset_ == 0) fail("the model imports no default-domain opset");
  if (opset_ < kMinOpset || opset_ > kMaxOpset)
    fail(fmt::format("opset {} is not supported (opsets {} to {} are)", opset_, kMinOpset, kMaxOpset));

  bind_initializers();
  bind_inputs();
  count_consumers();
  const onnx::GraphProto& g = model_.graph();
  taken_.assign(static_cast<size_t>(g.node_size()), false);

  // Constants first: they have no inputs, and fusion decisions (a Clip's bounds) may look at
  // constants that the exporter placed after the node deciding.
  for (int i = 0; i < g.node_size(); ++i) {
    if (g.node(i).op_type() != "Constant" || !default_domain(g.node(i).domain())) continue;
    node_ = &g.node(i);
    node_index_ = i;
    taken_[static_cast<size_t>(i)] = true;
    convert_current();
  }
  for (int i = 0; i < g.node_size(); ++i) {
    if (auto d = deferred_.find(i); d != deferred_.end()) {
      node_index_ = d->second.first;
      node_ = &g.node(node_index_);
      try {
        d->second.second();
      } catch (const OnnxError&) {
        throw;
      } catch (const std::exception& e) {
        fail(e.what());
      }
      continue;
    }
    if (taken_[static_cast<size_t>(i)]) continue;
    node_ = &g.node(i);
    node_index_ = i;
    taken_[static_cast<size_t>(i)] = true;
    convert_current();
  }
  bind_outputs();

  Model m;
  m.graph = std::move(graph_);
  m.param_count = param_count_;
  m.source = path_;
  m.seed = 0;
  return m;
}

}  // namespace dstack::models::onnx_import
