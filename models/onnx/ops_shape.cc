// Data movement: Reshape, Flatten, Transpose, Concat, Split, Slice, Gather (and embeddings), Pad,
// Squeeze, Unsqueeze. On activations the batch must stay dim 0; on load-time tensors (shape
// arithmetic) they are evaluated here.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <limits>
#include <numeric>

#include "models/onnx/ops.h"

namespace dstack::models::onnx_import {

namespace {

std::string sym_list(const std::vector<SymInt>& v) {
  std::vector<std::string> s;
  for (SymInt x : v) s.push_back(to_string(x));
  return fmt::format("[{}]", fmt::join(s, ", "));
}

std::string full_str(const Shape& per_sample) {
  std::vector<std::string> s{"B"};
  for (int64_t d : per_sample) s.push_back(std::to_string(d));
  return fmt::format("[{}]", fmt::join(s, ", "));
}

// Alias: the output is the input (no node).
void pass_through(Importer& im) { im.bind(im.node().output(0), im.input(0)); }

int reshape_node(Importer& im, int x, Shape per_sample) {
  if (per_sample == im.per_sample(x)) return x;
  Attrs a;
  a.shape = std::move(per_sample);
  return im.add_node(OpKind::Reshape, {x}, a);
}

// ONNX Reshape's target (0 = copy, -1 = inferred) resolved against an input of full shape
// `in`; for a load-time tensor (no batch).
Shape resolve_static_reshape(Importer& im, const Shape& in, const std::vector<int64_t>& target, bool allowzero) {
  Shape out;
  int infer = -1;
  for (size_t j = 0; j < target.size(); ++j) {
    int64_t d = target[j];
    if (d == 0 && !allowzero) {
      if (j >= in.size()) im.fail(fmt::format("target {} copies dim {} of {}, which has none", target, j, shape_str(in)));
      d = in[j];
    } else if (d == -1) {
      if (infer >= 0) im.fail(fmt::format("target {} has more than one -1", target));
      infer = static_cast<int>(j);
      d = 1;
    } else if (d < 0) {
      im.fail(fmt::format("target {} has a negative dim", target));
    }
    out.push_back(d);
  }
  const int64_t known = num_elements(out), total = num_elements(in);
  if (infer >= 0) {
    if (known == 0 || total % known != 0) im.fail(fmt::format("cannot reshape {} to {}", shape_str(in), target));
    out[static_cast<size_t>(infer)] = total / known;
  }
  if (num_elements(out) != total) im.fail(fmt::format("cannot reshape {} to {}", shape_str(in), target));
  return out;
}

// The per-sample shape of an activation reshaped to `target` (symbolic in the batch): its dim 0
// must be the batch (B itself, 0 = copy, -1 when the rest accounts for one sample exactly, or the
// fixed batch the model was exported with), the others known.
Shape resolve_reshape(Importer& im, const Shape& in, const std::vector<SymInt>& target, bool allowzero) {
  if (target.empty()) im.fail("the target shape is empty (a scalar has no batch dim)");
  const std::string what = fmt::format("cannot reshape {} to {}", full_str(in), sym_list(target));
  const SymInt first = target[0];
  const bool batch_first = first.is_batch() || (first.known() && first.value == 0 && !allowzero) ||
                           (first.known() && first.value == -1) ||
                           (first.known() && im.export_batch() > 0 && first.value == im.export_batch());
  if (!batch_first)
    im.fail(fmt::format("{}: dim 0 of the target must be the batch (dstack graphs keep the batch first and "
                        "never mix it with other dims)", what));
  Shape out;
  int infer = -1;
  for (size_t j = 1; j < target.size(); ++j) {
    const SymInt t = target[j];
    if (!t.known()) im.fail(fmt::format("{}: dim {} depends on the batch size", what, j));
    int64_t d = t.value;
    if (d == 0 && !allowzero) {
      if (j > in.size()) im.fail(fmt::format("{}: dim {} copies an input dim that does not exist", what, j));
      d = in[j - 1];
    } else if (d == -1) {
      if (infer >= 0 || (first.known() && first.value == -1)) im.fail(fmt::format("{}: more than one -1", what));
      infer = static_cast<int>(out.size());
      d = 1;
    } else if (d <= 0) {
      im.fail(fmt::format("{}: dim {} is {}", what, j, d));
    }
    out.push_back(d);
  }
  const int64_t total = num_elements(in), known = num_elements(out);
  if (infer >= 0) {
    if (total % known != 0)
      im.fail(fmt::format("{}: {} elements per sample do not divide into {}", what, total, shape_str(out)));
    out[static_cast<size_t>(infer)] = total / known;
  }
  if (num_elements(out) != total)
    im.fail(fmt::format("{}: {} elements per sample, the target has {}{}", what, total, num_elements(out),
                        first.known() && first.value == -1 ? " (a -1 in dim 0 would fold other dims into the batch)" : ""));
  return out;
}

// Axes from the attribute (opset < 13) or the second input (opset 13+).
std::optional<std::vector<int64_t>> axes_operand(Importer& im) {
  if (im.opset() < 13) {
    if (!im.has_attr("axes")) return std::nullopt;
    return im.attr_ints("axes");
  }
  if (!im.has_input(1)) return std::nullopt;
  return im.static_ints(1, "the axes");
}

}  // namespace

void convert_reshape(Importer& im) {
  im.check_attributes({"allowzero"});
  const bool allowzero = im.attr_int("allowzero", 0) != 0;
  if (im.input_is_static(0)) {
    const StaticTensor& x = *im.input(0).known;
    im.bind_static(0, static_reshape(x, resolve_static_reshape(im, x.shape, im.static_ints(1, "the target shape"), allowzero)));
    return;
  }
  const int x = im.activation(0, "the input");
  const StaticTensor& target = im.static_input(1, "the target shape");
  if (target.type != ElemType::Int || target.shape.size() != 1)
    im.fail(fmt::format("the target shape must be a 1-D integer tensor, is {}", describe(target)));
  im.bind_output(0, reshape_node(im, x, resolve_reshape(im, im.per_sample(x), target.i, allowzero)), im.input(0).int_data);
}

void convert_flatten(Importer& im) {
  im.check_attributes({"axis"});
  int64_t axis = im.attr_int("axis", 1);
  if (im.input_is_static(0)) {
    const StaticTensor& x = *im.input(0).known;
    const auto r = static_cast<int64_t>(x.shape.size());
    if (axis < 0) axis += r;
    if (axis < 0 || axis > r) im.fail(fmt::format("axis {} out of range for rank {}", axis, r));
    const int64_t rows = num_elements(Shape(x.shape.begin(), x.shape.begin() + axis));
    im.bind_static(0, static_reshape(x, {rows, x.size() / std::max<int64_t>(rows, 1)}));
    return;
  }
  const int x = im.activation(0, "the input");
  if (axis < 0) axis += im.rank(x);
  if (axis != 1)
    im.fail(fmt::format("Flatten with axis={} would merge the batch with other dims; only axis=1 is supported", axis));
  const Shape ps = im.per_sample(x);
  im.bind_output(0, reshape_node(im, x, {num_elements(ps)}), im.input(0).int_data);
}

void convert_transpose(Importer& im) {
  im.check_attributes({"perm"});
  const int r = im.input_is_static(0) ? static_cast<int>(im.input(0).known->shape.size()) : im.rank(im.input(0).value);
  std::vector<int> perm(static_cast<size_t>(r));
  std::iota(perm.rbegin(), perm.rend(), 0);  // default: reverse the axes
  if (im.has_attr("perm")) {
    std::vector<int64_t> p = im.attr_ints("perm");
    if (static_cast<int>(p.size()) != r) im.fail(fmt::format("perm {} does not match rank {}", p, r));
    for (size_t d = 0; d < p.size(); ++d) perm[d] = normalize_axis(p[d], r);
  }
  if (im.input_is_static(0)) {
    im.bind_static(0, static_transpose(*im.input(0).known, perm));
    return;
  }
  const int x = im.activation(0, "the input");
  if (perm[0] != 0) im.fail(fmt::format("perm {} moves the batch axis; perm[0] must be 0", perm));
  std::vector<int> identity(perm.size());
  std::iota(identity.begin(), identity.end(), 0);
  if (perm == identity) return pass_through(im);
  Attrs a;
  a.perm = perm;
  im.bind_output(0, im.add_node(OpKind::Transpose, {x}, a), im.input(0).int_data);
}

void convert_concat(Importer& im) {
  im.check_attributes({"axis"});
  if (!im.has_attr("axis")) im.fail("attribute axis is required");
  const int64_t axis = im.attr_int("axis", 0);
  if (im.all_inputs_static()) {
    std::vector<const StaticTensor*> xs;
    for (int i = 0; i < im.input_count(); ++i) xs.push_back(im.input(i).known.get());
    im.bind_static(0, static_concat(xs, normalize_axis(axis, static_cast<int64_t>(xs.at(0)->shape.size()))));
    return;
  }
  int first = -1;
  for (int i = 0; i < im.input_count() && first < 0; ++i)
    if (!im.input_is_static(i)) first = im.input(i).value;
  const int ax = normalize_axis(axis, im.rank(first));
  if (ax == 0) im.fail("concatenation along the batch axis (axis 0) is not supported");
  std::vector<int> inputs;
  bool ints = true;
  for (int i = 0; i < im.input_count(); ++i) {
    const Binding& b = im.input(i);
    if (b.is_static() && b.known->size() == 0) continue;  // an empty piece adds nothing
    ints = ints && (b.is_static() ? b.known->type == ElemType::Int : b.int_data);
    inputs.push_back(im.value(i));
  }
  Attrs a;
  a.axis = ax;
  im.bind_output(0, inputs.size() == 1 ? inputs[0] : im.add_node(OpKind::Concat, inputs, a), ints);
}

void convert_split(Importer& im) {
  im.check_attributes(im.opset() < 13 ? std::initializer_list<std::string_view>{"axis", "split"}
                                      : std::initializer_list<std::string_view>{"axis"});
  const int64_t axis_attr = im.attr_int("axis", 0);
  const bool is_static = im.input_is_static(0);
  const int r = is_static ? static_cast<int>(im.input(0).known->shape.size()) : im.rank(im.input(0).value);
  const int axis = normalize_axis(axis_attr, r);
  const int64_t dim = is_static ? im.input(0).known->shape[static_cast<size_t>(axis)]
                                : (axis == 0 ? -1 : im.per_sample(im.input(0).value)[static_cast<size_t>(axis - 1)]);
  if (!is_static && axis == 0) im.fail("splitting the batch axis (axis 0) is not supported");
  const int outputs = im.node().output_size();
  std::vector<int64_t> sizes;
  if (im.opset() < 13 && im.has_attr("split"))
    sizes = im.attr_ints("split");
  else if (im.opset() >= 13 && im.has_input(1))
    sizes = im.static_ints(1, "the split sizes");
  if (sizes.empty()) {
    if (outputs == 0 || dim % outputs != 0) im.fail(fmt::format("a dim of {} does not split evenly into {} outputs", dim, outputs));
    sizes.assign(static_cast<size_t>(outputs), dim / outputs);
  }
  if (static_cast<int>(sizes.size()) != outputs)
    im.fail(fmt::format("{} split sizes for {} outputs", sizes.size(), outputs));
  if (std::accumulate(sizes.begin(), sizes.end(), int64_t{0}) != dim || std::any_of(sizes.begin(), sizes.end(), [](int64_t s) { return s < 0; }))
    im.fail(fmt::format("split sizes {} do not add up to the dim {}", sizes, dim));
  int64_t offset = 0;
  for (int o = 0; o < outputs; ++o) {
    const int64_t len = sizes[static_cast<size_t>(o)];
    if (is_static) {
      std::vector<int64_t> idx(static_cast<size_t>(len));
      std::iota(idx.begin(), idx.end(), offset);
      im.bind_static(o, static_gather(*im.input(0).known, axis, idx, {len}));
    } else if (im.output_used(o)) {
      if (len == 0) im.fail(fmt::format("output {} would be empty", o));
      Attrs a;
      a.axes = {axis};
      a.starts = {offset};
      a.ends = {offset + len};
      a.steps = {1};
      im.bind_output(o, im.add_node(OpKind::Slice, {im.input(0).value}, a, fmt::format("/{}", o)), im.input(0).int_data);
    }
    offset += len;
  }
}

void convert_slice(Importer& im) {
  im.check_attributes({});
  const StaticTensor& starts_t = im.static_input(1, "starts");
  const StaticTensor& ends_t = im.static_input(2, "ends");
  if (starts_t.type != ElemType::Int || ends_t.type != ElemType::Int || starts_t.size() != ends_t.size())
    im.fail(fmt::format("starts and ends must be integer lists of one length: {} and {}", describe(starts_t), describe(ends_t)));
  const size_t count = starts_t.i.size();
  std::vector<int64_t> axes(count), steps(count, 1);
  std::iota(axes.begin(), axes.end(), 0);
  if (im.has_input(3)) axes = im.static_ints(3, "axes");
  if (im.has_input(4)) steps = im.static_ints(4, "steps");
  if (axes.size() != count || steps.size() != count)
    im.fail(fmt::format("starts, ends, axes and steps differ in length ({}, {}, {})", count, axes.size(), steps.size()));

  if (im.input_is_static(0)) {
    StaticTensor t = *im.input(0).known;
    const std::vector<int64_t> starts = known_ints(starts_t), ends = known_ints(ends_t);
    for (size_t i = 0; i < count; ++i) {
      const int ax = normalize_axis(axes[i], static_cast<int64_t>(t.shape.size()));
      std::vector<int64_t> idx = slice_indices(t.shape[static_cast<size_t>(ax)], starts[i], ends[i], steps[i]);
      const auto len = static_cast<int64_t>(idx.size());
      t = static_gather(t, ax, idx, {len});
    }
    im.bind_static(0, std::move(t));
    return;
  }

  const int x = im.activation(0, "the input");
  const Shape ps = im.per_sample(x);
  Attrs a;
  for (size_t i = 0; i < count; ++i) {
    const int ax = normalize_axis(axes[i], im.rank(x));
    const SymInt start = starts_t.i[i], end = ends_t.i[i];
    if (ax == 0) {  // only "all of the batch" is allowed
      const bool to_end = end.is_batch() || (end.batch == 1 && end.value >= 0) ||
                          (end.known() && end.value >= std::numeric_limits<int32_t>::max());
      if (start == SymInt{0, 0} && steps[i] == 1 && to_end) continue;
      im.fail(fmt::format("slicing the batch axis (start {}, end {}, step {}) is not supported", to_string(start),
                          to_string(end), steps[i]));
    }
    if (!start.known() || !end.known())
      im.fail(fmt::format("slice bounds of axis {} depend on the batch size ({}, {})", ax, to_string(start), to_string(end)));
    if (steps[i] <= 0) im.fail(fmt::format("step {} on axis {}: only positive steps are supported", steps[i], ax));
    const int64_t dim = ps[static_cast<size_t>(ax - 1)];
    std::vector<int64_t> idx = slice_indices(dim, start.value, end.value, steps[i]);
    if (idx.empty()) im.fail(fmt::format("the slice of axis {} [{}:{}:{}] is empty", ax, start.value, end.value, steps[i]));
    if (static_cast<int64_t>(idx.size()) == dim) continue;  // the whole axis
    a.axes.push_back(ax);
    a.starts.push_back(idx.front());
    a.ends.push_back(idx.back() + 1);
    a.steps.push_back(steps[i]);
  }
  if (a.axes.empty()) return pass_through(im);
  im.bind_output(0, im.add_node(OpKind::Slice, {x}, a), im.input(0).int_data);
}

void convert_gather(Importer& im) {
  im.check_attributes({"axis"});
  const int64_t axis_attr = im.attr_int("axis", 0);
  const Binding& data = im.input(0);
  const Binding& indices = im.input(1);
  if (data.is_static() && indices.is_static()) {
    const StaticTensor& d = *data.known;
    im.bind_static(0, static_gather(d, normalize_axis(axis_attr, static_cast<int64_t>(d.shape.size())),
                                    im.static_ints(1, "the indices"), indices.known->shape));
    return;
  }
  if (data.is_static()) {  // a lookup table indexed at run time: an embedding
    const StaticTensor& table = *data.known;
    if (table.type != ElemType::Float || table.shape.size() != 2 ||
        normalize_axis(axis_attr, static_cast<int64_t>(table.shape.size())) != 0)
      im.fail(fmt::format("a constant table indexed by run-time ids must be a float [rows, dim] gathered on axis 0 "
                          "(an embedding); got {} on axis {}", describe(table), axis_attr));
    const int ids = indices.value;
    const int tbl = im.value(0);
    im.bind_output(0, im.add_node(OpKind::Embedding, {tbl, ids}));
    return;
  }
  if (!indices.is_static())
    im.fail("both the data and the indices are computed at run time; only constant indices (or a constant table) are supported");
  const int x = data.value;
  const int axis = normalize_axis(axis_attr, im.rank(x));
  if (axis == 0) im.fail("gathering along the batch axis (axis 0) is not supported");
  const StaticTensor& idx_t = *indices.known;
  if (idx_t.shape.size() > 1) im.fail(fmt::format("indices of rank {} are not supported (a scalar or a list)", idx_t.shape.size()));
  const int64_t dim = im.per_sample(x)[static_cast<size_t>(axis - 1)];
  Attrs a;
  a.axis = axis;
  a.keepdims = idx_t.shape.size() == 1;
  for (int64_t i : im.static_ints(1, "the indices")) {
    if (i < -dim || i >= dim) im.fail(fmt::format("index {} out of range for axis {} of size {}", i, axis, dim));
    a.indices.push_back(i < 0 ? i + dim : i);
  }
  im.bind_output(0, im.add_node(OpKind::Gather, {x}, a), data.int_data);
}

void convert_pad(Importer& im) {
  im.check_attributes({"mode"});
  const std::string mode = im.attr_string("mode", "constant");
  if (mode != "constant") im.fail(fmt::format("unsupported attribute mode={} (only constant padding)", mode));
  const int x = im.activation(0, "the input");
  const int r = im.rank(x);
  const std::vector<int64_t> pads = im.static_ints(1, "pads");
  if (static_cast<int>(pads.size()) != 2 * r) im.fail(fmt::format("pads {} must have 2 x rank = {} values", pads, 2 * r));
  Attrs a;
  a.pads_begin.assign(pads.begin(), pads.begin() + r);
  a.pads_end.assign(pads.begin() + r, pads.end());
  if (a.pads_begin[0] != 0 || a.pads_end[0] != 0) im.fail("padding the batch axis is not supported");
  if (im.has_input(2)) {
    const StaticTensor& v = im.static_input(2, "the constant value");
    if (v.size() != 1) im.fail(fmt::format("the constant value must be a scalar, is {}", describe(v)));
    a.pad_value = as_floats(v)[0];
  }
  if (std::all_of(pads.begin(), pads.end(), [](int64_t p) { return p == 0; })) return pass_through(im);
  im.bind_output(0, im.add_node(OpKind::Pad, {x}, a), im.input(0).int_data);
}

void convert_squeeze(Importer& im) {
  im.check_attributes(im.opset() < 13 ? std::initializer_list<std::string_view>{"axes"}
                                      : std::initializer_list<std::string_view>{});
  const std::optional<std::vector<int64_t>> axes = axes_operand(im);
  const bool is_static = im.input_is_static(0);
  Shape full = is_static ? im.input(0).known->shape : Shape{1};
  if (!is_static) {
    const Shape ps = im.per_sample(im.input(0).value);
    full.insert(full.end(), ps.begin(), ps.end());
  }
  const auto r = static_cast<int64_t>(full.size());
  std::vector<bool> drop(full.size(), false);
  if (axes) {
    for (int64_t ax : *axes) {
      const int a = normalize_axis(ax, r);
      if (a == 0 && !is_static) im.fail("squeezing the batch axis (axis 0) is not supported");
      if (full[static_cast<size_t>(a)] != 1) im.fail(fmt::format("axis {} has size {}, not 1", a, full[static_cast<size_t>(a)]));
      drop[static_cast<size_t>(a)] = true;
    }
  } else {
    // No axes: every size-1 dim, but never the batch (whatever size it has at run time).
    for (size_t d = is_static ? 0 : 1; d < full.size(); ++d) drop[d] = full[d] == 1;
  }
  Shape out;
  for (size_t d = 0; d < full.size(); ++d)
    if (!drop[d]) out.push_back(full[d]);
  if (is_static) {
    im.bind_static(0, static_reshape(*im.input(0).known, out));
    return;
  }
  const int x = im.input(0).value;
  im.bind_output(0, reshape_node(im, x, Shape(out.begin() + 1, out.end())), im.input(0).int_data);
}

void convert_unsqueeze(Importer& im) {
  im.check_attributes(im.opset() < 13 ? std::initializer_list<std::string_view>{"axes"}
                                      : std::initializer_list<std::string_view>{});
  const std::optional<std::vector<int64_t>> axes = axes_operand(im);
  if (!axes || axes->empty()) im.fail("axes are required");
  const bool is_static = im.input_is_static(0);
  Shape in = is_static ? im.input(0).known->shape : Shape{1};
  if (!is_static) {
    const Shape ps = im.per_sample(im.input(0).value);
    in.insert(in.end(), ps.begin(), ps.end());
  }
  const auto out_rank = static_cast<int64_t>(in.size() + axes->size());
  std::vector<bool> inserted(static_cast<size_t>(out_rank), false);
  for (int64_t ax : *axes) {
    const int a = normalize_axis(ax, out_rank);
    if (inserted[static_cast<size_t>(a)]) im.fail(fmt::format("axis {} given twice", a));
    inserted[static_cast<size_t>(a)] = true;
  }
  if (!is_static && inserted[0]) im.fail("inserting a dim before the batch (axis 0) is not supported");
  Shape out;
  size_t next = 0;
  for (size_t d = 0; d < inserted.size(); ++d) out.push_back(inserted[d] ? 1 : in[next++]);
  if (is_static) {
    im.bind_static(0, static_reshape(*im.input(0).known, out));
    return;
  }
  const int x = im.input(0).value;
  im.bind_output(0, reshape_node(im, x, Shape(out.begin() + 1, out.end())), im.input(0).int_data);
}

}  // namespace dstack::models::onnx_import
