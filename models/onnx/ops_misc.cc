// Ops that make or relabel tensors rather than compute: Constant, ConstantOfShape, Shape, Cast,
// Range (evaluated while loading), Identity and inference-mode Dropout (aliases).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "models/onnx/ops.h"
#include "models/onnx/tensor_proto.h"

namespace dstack::models::onnx_import {

void convert_constant(Importer& im) {
  im.check_attributes({"value", "value_float", "value_floats", "value_int", "value_ints"});
  const onnx::NodeProto& n = im.node();
  if (n.attribute_size() != 1) im.fail("needs exactly one value attribute");
  const onnx::AttributeProto& a = n.attribute(0);
  if (a.name() == "value") {
    im.bind_static(0, decode_tensor(*im.attr_tensor("value")));
  } else if (a.name() == "value_float") {
    im.bind_static(0, StaticTensor::floats({}, {a.f()}));
  } else if (a.name() == "value_floats") {
    im.bind_static(0, StaticTensor::floats({a.floats_size()}, {a.floats().begin(), a.floats().end()}));
  } else if (a.name() == "value_int") {
    im.bind_static(0, StaticTensor::known_ints({}, {a.i()}));
  } else {
    im.bind_static(0, StaticTensor::known_ints({a.ints_size()}, {a.ints().begin(), a.ints().end()}));
  }
}

void convert_constant_of_shape(Importer& im) {
  im.check_attributes({"value"});
  std::vector<int64_t> dims = im.static_ints(0, "the shape");
  for (int64_t d : dims)
    if (d < 0) im.fail(fmt::format("negative dim {}", d));
  StaticTensor fill = StaticTensor::floats({1}, {0.f});
  if (const onnx::TensorProto* t = im.attr_tensor("value")) fill = decode_tensor(*t);
  if (fill.size() != 1) im.fail("the value attribute must hold one element");
  const Shape shape(dims.begin(), dims.end());
  const auto count = static_cast<size_t>(checked_static_count(shape, "the shape"));
  if (fill.type == ElemType::Float)
    im.bind_static(0, StaticTensor::floats(shape, std::vector<float>(count, fill.f[0])));
  else
    im.bind_static(0, StaticTensor::ints(shape, std::vector<SymInt>(count, fill.i[0])));
}

void convert_shape(Importer& im) {
  im.check_attributes({"start", "end"});
  std::vector<SymInt> dims;
  const Binding& x = im.input(0);
  if (x.is_static()) {
    for (int64_t d : x.known->shape) dims.push_back({0, d});
  } else {
    dims.push_back({1, 0});  // the batch, known at run time only
    for (int64_t d : im.per_sample(x.value)) dims.push_back({0, d});
  }
  const auto r = static_cast<int64_t>(dims.size());
  auto clamp = [r](int64_t v) { return std::clamp<int64_t>(v < 0 ? v + r : v, 0, r); };
  const int64_t start = clamp(im.attr_int("start", 0)), end = clamp(im.attr_int("end", r));
  std::vector<SymInt> out;
  for (int64_t d = start; d < end; ++d) out.push_back(dims[static_cast<size_t>(d)]);
  const Shape shape{static_cast<int64_t>(out.size())};
  im.bind_static(0, StaticTensor::ints(shape, std::move(out)));
}

void convert_cast(Importer& im) {
  im.check_attributes({"to"});
  const auto to = static_cast<int32_t>(im.attr_int("to", 0));
  const bool to_float = is_float_type(to);
  const bool to_bool = to == onnx::TensorProto_DataType_BOOL;
  const bool to_int = to_bool || to == onnx::TensorProto_DataType_INT64 || to == onnx::TensorProto_DataType_INT32 ||
                      to == onnx::TensorProto_DataType_INT16 || to == onnx::TensorProto_DataType_INT8 ||
                      to == onnx::TensorProto_DataType_UINT8 || to == onnx::TensorProto_DataType_UINT16 ||
                      to == onnx::TensorProto_DataType_UINT32 || to == onnx::TensorProto_DataType_UINT64;
  if (!to_float && !to_int) im.fail(fmt::format("casting to {} is not supported", data_type_name(to)));
  const Binding& x = im.input(0);
  if (x.is_static()) {
    im.bind_static(0, static_cast_to(*x.known, to_float ? ElemType::Float : ElemType::Int, to_bool));
    return;
  }
  // Run-time data is float32 throughout: a cast to float, or of integers to integers, changes nothing.
  if (to_float) {
    im.bind_output(0, x.value, false);
  } else if (x.int_data && !to_bool) {
    im.bind_output(0, x.value, true);
  } else {
    im.fail(fmt::format("casting run-time {} data to {} is not supported (it would round or threshold it)",
                        x.int_data ? "integer" : "float", data_type_name(to)));
  }
}

void convert_identity(Importer& im) {
  im.check_attributes({});
  im.bind(im.node().output(0), im.input(0));
}

void convert_dropout(Importer& im) {
  im.check_attributes({"seed"});
  im.require_unused_outputs_from(1);  // the mask
  if (im.has_input(2)) {
    const std::vector<int64_t> training = im.static_ints(2, "training_mode");
    if (training.size() != 1 || training[0] != 0) im.fail("training_mode=true is not supported (inference only)");
  }
  im.bind(im.node().output(0), im.input(0));
}

void convert_range(Importer& im) {
  im.check_attributes({});
  const StaticTensor& start = im.static_input(0, "start");
  const StaticTensor& limit = im.static_input(1, "limit");
  const StaticTensor& delta = im.static_input(2, "delta");
  if (start.size() != 1 || limit.size() != 1 || delta.size() != 1) im.fail("start, limit and delta must be scalars");
  if (start.type == ElemType::Float) {
    const float s = start.f[0], l = as_floats(limit)[0], d = as_floats(delta)[0];
    if (d == 0.f) im.fail("delta is 0");
    const float steps = std::ceil((l - s) / d);
    if (!std::isfinite(steps)) im.fail("start, limit and delta must be finite");
    const auto n = checked_static_count({static_cast<int64_t>(std::clamp(steps, 0.f, 1e18f))}, "the range");
    std::vector<float> v;
    for (int64_t i = 0; i < n; ++i) v.push_back(s + static_cast<float>(i) * d);
    im.bind_static(0, StaticTensor::floats({n}, std::move(v)));
    return;
  }
  const int64_t s = known_ints(start)[0], l = known_ints(limit)[0], d = known_ints(delta)[0];
  if (d == 0) im.fail("delta is 0");
  // The count in unsigned arithmetic: the distance between two int64s always fits in a uint64.
  uint64_t count = 0;
  if (d > 0 && l > s) count = (static_cast<uint64_t>(l) - static_cast<uint64_t>(s) - 1) / static_cast<uint64_t>(d) + 1;
  if (d < 0 && l < s)
    count = (static_cast<uint64_t>(s) - static_cast<uint64_t>(l) - 1) / (0 - static_cast<uint64_t>(d)) + 1;
  if (count > static_cast<uint64_t>(kMaxStaticElements))
    im.fail(fmt::format("the range has more than {} elements, more than a model's constants ever need",
                        kMaxStaticElements));
  // s + i * d in modular arithmetic: exact, since every value lies between s and l (C++20 converts back).
  std::vector<int64_t> v;
  for (uint64_t i = 0; i < count; ++i)
    v.push_back(static_cast<int64_t>(static_cast<uint64_t>(s) + i * static_cast<uint64_t>(d)));
  im.bind_static(0, StaticTensor::known_ints({static_cast<int64_t>(v.size())}, v));
}

}  // namespace dstack::models::onnx_import
