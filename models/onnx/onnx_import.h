#pragma once
// Loads an ONNX model (opsets 11 to 17) into a dstack graph, weights included.
//
// What the graph gets:
//  - Each graph input's dim 0 is the batch (a dim_param, -1, or a fixed size, which is then
//    generalised to any batch); dims 1.. are the per-sample shape and must be fixed. The model
//    runs at any batch size.
//  - Conv + BatchNormalization (when the conv's output feeds only that BN) is folded into one
//    convolution; a following Relu / Clip becomes the conv's epilogue, and an Add of another
//    tensor of the conv's output shape (then an optional Relu / Clip) becomes its residual input.
//    MatMul by a constant matrix (+ a bias Add) and Gemm become Linear (+ Relu / Clip epilogue).
//    A BatchNormalization that cannot fold is a ChannelAffine.
//  - Shape arithmetic (Shape, Gather, Unsqueeze, Concat, Slice, Cast, Add/Sub/Mul/Div, ...), and
//    any op whose inputs are all constants, is evaluated while loading; the batch size stays
//    symbolic in it, so Reshape targets such as [x.size(0), 8, 4, 8] keep the batch first.
//  - param_count is the number of floating-point elements of the initializers, less batch-norm
//    running means and variances (buffers, which torchvision's count leaves out too); a weight
//    shared by two nodes counts once.
//
// Every problem (a file that does not parse, an op or attribute outside the supported set, a
// missing input, shapes that do not fit) throws OnnxError with one message naming the file, and
// for a node its index, name and op, what is wrong and what is supported.
#include <stdexcept>
#include <string>

#include "models/model.h"

namespace dstack::models {

class OnnxError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

Model load_onnx(const std::string& path);

}  // namespace dstack::models
