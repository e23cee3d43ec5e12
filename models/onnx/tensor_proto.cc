#include "models/onnx/tensor_proto.h"

#include <fmt/format.h>

#include <bit>
#include <cmath>
#include <cstring>

namespace dstack::models::onnx_import {

namespace {

using DT = onnx::TensorProto_DataType;

float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h >> 15) << 31;
  const int exponent = (h >> 10) & 0x1f;
  const uint32_t mantissa = h & 0x3ffu;
  float magnitude;
  if (exponent == 0)
    magnitude = std::ldexp(static_cast<float>(mantissa), -24);  // subnormal
  else if (exponent == 31)
    magnitude = mantissa ? std::nanf("") : INFINITY;
  else
    magnitude = std::ldexp(static_cast<float>(mantissa | 0x400u), exponent - 25);
  return std::bit_cast<float>(std::bit_cast<uint32_t>(magnitude) | sign);
}

float bfloat16_to_float(uint16_t b) { return std::bit_cast<float>(static_cast<uint32_t>(b) << 16); }

// Element size in raw_data (little-endian, as ONNX stores it and as x86/ARM hosts read it).
size_t raw_size(int32_t type) {
  switch (type) {
    case DT::TensorProto_DataType_FLOAT: case DT::TensorProto_DataType_INT32: return 4;
    case DT::TensorProto_DataType_DOUBLE: case DT::TensorProto_DataType_INT64: return 8;
    case DT::TensorProto_DataType_FLOAT16: case DT::TensorProto_DataType_BFLOAT16:
    case DT::TensorProto_DataType_INT16: case DT::TensorProto_DataType_UINT16: return 2;
    case DT::TensorProto_DataType_INT8: case DT::TensorProto_DataType_UINT8: case DT::TensorProto_DataType_BOOL: return 1;
    default: return 0;
  }
}

template <typename T>
T read_raw(const std::string& raw, size_t i) {
  T v;
  std::memcpy(&v, raw.data() + i * sizeof(T), sizeof(T));
  return v;
}

// Element i of the raw payload, as a double (exact for every supported type but large int64s,
// which go through the int path below).
double raw_float(const std::string& raw, int32_t type, size_t i) {
  switch (type) {
    case DT::TensorProto_DataType_FLOAT: return read_raw<float>(raw, i);
    case DT::TensorProto_DataType_DOUBLE: return read_raw<double>(raw, i);
    case DT::TensorProto_DataType_FLOAT16: return half_to_float(read_raw<uint16_t>(raw, i));
    default: return bfloat16_to_float(read_raw<uint16_t>(raw, i));
  }
}

int64_t raw_int(const std::string& raw, int32_t type, size_t i) {
  switch (type) {
    case DT::TensorProto_DataType_INT64: return read_raw<int64_t>(raw, i);
    case DT::TensorProto_DataType_INT32: return read_raw<int32_t>(raw, i);
    case DT::TensorProto_DataType_INT16: return read_raw<int16_t>(raw, i);
    case DT::TensorProto_DataType_UINT16: return read_raw<uint16_t>(raw, i);
    case DT::TensorProto_DataType_INT8: return read_raw<int8_t>(raw, i);
    default: return read_raw<uint8_t>(raw, i);  // UINT8, BOOL
  }
}

}  // namespace

std::string data_type_name(int32_t data_type) {
  switch (data_type) {
    case DT::TensorProto_DataType_FLOAT: return "float";
    case DT::TensorProto_DataType_UINT8: return "uint8";
    case DT::TensorProto_DataType_INT8: return "int8";
    case DT::TensorProto_DataType_UINT16: return "uint16";
    case DT::TensorProto_DataType_INT16: return "int16";
    case DT::TensorProto_DataType_INT32: return "int32";
    case DT::TensorProto_DataType_INT64: return "int64";
    case DT::TensorProto_DataType_STRING: return "string";
    case DT::TensorProto_DataType_BOOL: return "bool";
    case DT::TensorProto_DataType_FLOAT16: return "float16";
    case DT::TensorProto_DataType_DOUBLE: return "double";
    case DT::TensorProto_DataType_UINT32: return "uint32";
    case DT::TensorProto_DataType_UINT64: return "uint64";
    case DT::TensorProto_DataType_COMPLEX64: return "complex64";
    case DT::TensorProto_DataType_COMPLEX128: return "complex128";
    case DT::TensorProto_DataType_BFLOAT16: return "bfloat16";
    default: return fmt::format("data type {}", data_type);
  }
}

bool is_float_type(int32_t t) {
  return t == DT::TensorProto_DataType_FLOAT || t == DT::TensorProto_DataType_DOUBLE ||
         t == DT::TensorProto_DataType_FLOAT16 || t == DT::TensorProto_DataType_BFLOAT16;
}

StaticTensor decode_tensor(const onnx::TensorProto& t) {
  const std::string name = t.name().empty() ? std::string("(unnamed)") : "'" + t.name() + "'";
  if (t.data_location() == onnx::TensorProto_DataLocation_EXTERNAL)
    throw StaticError(fmt::format("tensor {} keeps its data in an external file, which is not supported", name));
  if (t.has_segment()) throw StaticError(fmt::format("tensor {} is segmented, which is not supported", name));
  Shape shape;
  for (int64_t d : t.dims()) {
    if (d < 0) throw StaticError(fmt::format("tensor {} has a negative dim", name));
    shape.push_back(d);
  }
  const int64_t count = num_elements(shape);
  const int32_t type = t.data_type();
  const bool is_float = is_float_type(type);
  const size_t elem = raw_size(type);
  if (elem == 0)
    throw StaticError(fmt::format("tensor {} has type {}, which is not supported (float, double, float16, "
                                  "bfloat16 and integer types are)", name, data_type_name(type)));

  // The payload: raw bytes, or the typed repeated field that type uses.
  int64_t held;
  const bool raw = t.has_raw_data();
  if (raw) {
    held = static_cast<int64_t>(t.raw_data().size() / elem);
    if (t.raw_data().size() % elem != 0) held = -1;
  } else if (type == DT::TensorProto_DataType_FLOAT) {
    held = t.float_data_size();
  } else if (type == DT::TensorProto_DataType_DOUBLE) {
    held = t.double_data_size();
  } else if (type == DT::TensorProto_DataType_INT64) {
    held = t.int64_data_size();
  } else {
    held = t.int32_data_size();  // int32, int16, int8, uint16, uint8, bool, float16, bfloat16
  }
  if (held != count)
    throw StaticError(fmt::format("tensor {} of shape {} holds {} values instead of {} (truncated or corrupt)",
                                  name, shape_str(shape), held < 0 ? std::string("a partial number of") : std::to_string(held), count));

  const auto n = static_cast<size_t>(count);
  if (is_float) {
    std::vector<float> data(n);
    for (size_t i = 0; i < n; ++i) {
      if (raw)
        data[i] = static_cast<float>(raw_float(t.raw_data(), type, i));
      else if (type == DT::TensorProto_DataType_FLOAT)
        data[i] = t.float_data(static_cast<int>(i));
      else if (type == DT::TensorProto_DataType_DOUBLE)
        data[i] = static_cast<float>(t.double_data(static_cast<int>(i)));
      else if (type == DT::TensorProto_DataType_FLOAT16)
        data[i] = half_to_float(static_cast<uint16_t>(t.int32_data(static_cast<int>(i))));
      else
        data[i] = bfloat16_to_float(static_cast<uint16_t>(t.int32_data(static_cast<int>(i))));
    }
    return StaticTensor::floats(std::move(shape), std::move(data));
  }
  std::vector<int64_t> data(n);
  for (size_t i = 0; i < n; ++i) {
    if (raw)
      data[i] = raw_int(t.raw_data(), type, i);
    else if (type == DT::TensorProto_DataType_INT64)
      data[i] = t.int64_data(static_cast<int>(i));
    else
      data[i] = t.int32_data(static_cast<int>(i));
  }
  return StaticTensor::known_ints(std::move(shape), data);
}

}  // namespace dstack::models::onnx_import
