#pragma once
// One conversion function per ONNX op type, grouped by family in ops_*.cc. Each reads the current
// node from the Importer, adds graph nodes (or computes a load-time tensor) and binds the outputs.
#include <functional>
#include <map>
#include <string>

#include "models/onnx/importer.h"

namespace dstack::models::onnx_import {

using Converter = void (*)(Importer&);

// ONNX op type (default domain) -> conversion. The keys are the supported set.
const std::map<std::string, Converter, std::less<>>& converters();
std::string supported_op_list();  // "Add, AveragePool, ..." for error messages

// ops_conv.cc
void convert_conv(Importer& im);
void convert_batch_norm(Importer& im);
void convert_max_pool(Importer& im);
void convert_average_pool(Importer& im);
void convert_global_average_pool(Importer& im);
// ops_linear.cc
void convert_gemm(Importer& im);
void convert_matmul(Importer& im);
// ops_elementwise.cc
void convert_binary(Importer& im);
void convert_unary(Importer& im);
void convert_softmax(Importer& im);
void convert_layer_norm(Importer& im);
void convert_reduce_mean(Importer& im);
// ops_shape.cc
void convert_reshape(Importer& im);
void convert_flatten(Importer& im);
void convert_transpose(Importer& im);
void convert_concat(Importer& im);
void convert_split(Importer& im);
void convert_slice(Importer& im);
void convert_gather(Importer& im);
void convert_pad(Importer& im);
void convert_squeeze(Importer& im);
void convert_unsqueeze(Importer& im);
// ops_misc.cc
void convert_constant(Importer& im);
void convert_constant_of_shape(Importer& im);
void convert_shape(Importer& im);
void convert_cast(Importer& im);
void convert_identity(Importer& im);
void convert_dropout(Importer& im);
void convert_range(Importer& im);

}  // namespace dstack::models::onnx_import
