#pragma once
// Tensors known while the model loads: initializers, Constant nodes, and the shape arithmetic an
// exporter writes to rebuild shapes at run time (Shape -> Gather -> Unsqueeze -> Concat -> Reshape).
// Their values are computed once, here, so the graph only ever sees fixed per-sample shapes.
//
// Integers are symbolic in the batch size: a shape read from an activation has the batch as its
// dim 0, whose value is unknown until run time. SymInt keeps such an element as `batch * B + value`,
// enough for the arithmetic exporters emit (the batch copied, sliced out, concatenated back), and
// anything that would need B's value (B * B, B cast to a float) is refused.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/elementwise.h"
#include "models/graph.h"

namespace dstack::models::onnx_import {

// Thrown by the evaluation below; the importer adds which file, node and op it was.
class StaticError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The most elements a tensor evaluated while loading may have: shape arithmetic and folded constants
// are far below it, so a larger one is a malformed model, refused before anything of its size is
// allocated.
inline constexpr int64_t kMaxStaticElements = int64_t{1} << 26;

// The element count of `shape`; throws StaticError, naming `what`, for a negative dim or a count
// above kMaxStaticElements (overflow included).
int64_t checked_static_count(const Shape& shape, const std::string& what);

struct SymInt {
  int64_t batch = 0;  // coefficient of the batch size B
  int64_t value = 0;
  bool known() const { return batch == 0; }
  bool is_batch() const { return batch == 1 && value == 0; }
  bool operator==(const SymInt&) const = default;
};
std::string to_string(SymInt s);

enum class ElemType { Float, Int };

struct StaticTensor {
  ElemType type = ElemType::Float;
  Shape shape;            // the full ONNX shape (no batch convention: these are plain tensors)
  std::vector<float> f;   // type == Float
  std::vector<SymInt> i;  // type == Int (also bool)

  int64_t size() const { return num_elements(shape); }
  static StaticTensor floats(Shape shape, std::vector<float> data);
  static StaticTensor ints(Shape shape, std::vector<SymInt> data);
  static StaticTensor known_ints(Shape shape, const std::vector<int64_t>& data);
};

std::string describe(const StaticTensor& t);  // "int64 [3] = {B, 8, 32}" (short values only)

// Values as plain numbers; throw StaticError when an element depends on the batch.
std::vector<int64_t> known_ints(const StaticTensor& t);
std::vector<float> as_floats(const StaticTensor& t);

// Axis in [0, rank) from ONNX's [-rank, rank).
int normalize_axis(int64_t axis, int64_t rank);

// ONNX Slice on one axis of length `dim`: negative starts/ends count from the end, both are clamped
// (differently for negative steps); returns the indices taken, in order. step must not be 0.
std::vector<int64_t> slice_indices(int64_t dim, int64_t start, int64_t end, int64_t step);

StaticTensor static_binary(kernels::BinaryOp op, const StaticTensor& a, const StaticTensor& b);
StaticTensor static_unary(kernels::UnaryOp op, const kernels::ActivationParams& act, const StaticTensor& x);
StaticTensor static_cast_to(const StaticTensor& x, ElemType type, bool to_bool);
// Gather along `axis` with a flat index list of shape `indices_shape` (ONNX Gather's output shape).
StaticTensor static_gather(const StaticTensor& x, int axis, const std::vector<int64_t>& indices,
                           const Shape& indices_shape);
StaticTensor static_concat(const std::vector<const StaticTensor*>& xs, int axis);
StaticTensor static_transpose(const StaticTensor& x, const std::vector<int>& perm);
StaticTensor static_reshape(const StaticTensor& x, Shape shape);  // same element count

}  // namespace dstack::models::onnx_import
