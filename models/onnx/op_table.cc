// The supported ONNX ops: op type -> conversion. Adding an op is one line here plus its function.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "models/onnx/ops.h"

namespace dstack::models::onnx_import {

const std::map<std::string, Converter, std::less<>>& converters() {
  static const std::map<std::string, Converter, std::less<>> table = {
      {"Add", convert_binary},
      {"AveragePool", convert_average_pool},
      {"BatchNormalization", convert_batch_norm},
      {"Cast", convert_cast},
      {"Clip", convert_unary},
      {"Concat", convert_concat},
      {"Constant", convert_constant},
      {"ConstantOfShape", convert_constant_of_shape},
      {"Conv", convert_conv},
      {"Div", convert_binary},
      {"Dropout", convert_dropout},
      {"Erf", convert_unary},
      {"Exp", convert_unary},
      {"Flatten", convert_flatten},
      {"Gather", convert_gather},
      {"Gemm", convert_gemm},
      {"GlobalAveragePool", convert_global_average_pool},
      {"Identity", convert_identity},
      {"LayerNormalization", convert_layer_norm},
      {"MatMul", convert_matmul},
      {"MaxPool", convert_max_pool},
      {"Mul", convert_binary},
      {"Neg", convert_unary},
      {"Pad", convert_pad},
      {"Pow", convert_binary},
      {"Range", convert_range},
      {"Reciprocal", convert_unary},
      {"ReduceMean", convert_reduce_mean},
      {"Relu", convert_unary},
      {"Reshape", convert_reshape},
      {"Shape", convert_shape},
      {"Sigmoid", convert_unary},
      {"Slice", convert_slice},
      {"Softmax", convert_softmax},
      {"Split", convert_split},
      {"Sqrt", convert_unary},
      {"Squeeze", convert_squeeze},
      {"Sub", convert_binary},
      {"Tanh", convert_unary},
      {"Transpose", convert_transpose},
      {"Unsqueeze", convert_unsqueeze},
  };
  return table;
}

std::string supported_op_list() {
  std::vector<std::string> names;
  for (const auto& [name, fn] : converters()) names.push_back(name);
  return fmt::format("{}", fmt::join(names, ", "));
}

}  // namespace dstack::models::onnx_import
