#pragma once
// Decoding of ONNX TensorProto (initializers, Constant values) into load-time tensors.
#include <string>

#include "models/onnx/onnx_proto.h"
#include "models/onnx/static_tensor.h"

namespace dstack::models::onnx_import {

// "float", "int64", ... for messages.
std::string data_type_name(int32_t data_type);
// Floating-point element types (what the parameter count counts).
bool is_float_type(int32_t data_type);
// Floats, doubles and halves become Float; integers and bools become Int. Throws StaticError for
// other types, external data, and payloads whose size does not match the shape (truncated files).
StaticTensor decode_tensor(const onnx::TensorProto& t);

}  // namespace dstack::models::onnx_import
