#pragma once
// The storage precision of a run: every tensor a kernel reads or writes is held in this type, while
// accumulation and epilogue math stay in fp32 (one rounding, on store). A run-time choice, recorded
// in every plan and result. CPU-only: no CUDA header here (kernels/convert_cuda.h maps it to types).
#include <cstdint>
#include <string>
#include <string_view>

namespace dstack::kernels {

enum class Precision { F32, F16, BF16 };

// "fp32" | "fp16" | "bf16": the spelling the CLI accepts and results record.
const char* precision_name(Precision p);

// Inverse of precision_name. Throws std::invalid_argument
// "unknown precision 'x'; choose fp32, fp16 or bf16".
Precision parse_precision(std::string_view name);

// Bytes of one stored element: 4, 2, 2.
int element_bytes(Precision p);

// The CUDA storage type, spelled as the C++ demangler spells a template argument: "float" |
// "__half" | "__nv_bfloat16". Kernel names in LaunchGeometry are built with it.
const char* precision_device_type(Precision p);

// The name LaunchGeometry::kernel reports for a __global__ function template over the storage type:
// the demangled name without namespaces or parameter list, e.g. typed_kernel_name("gemm_tc",
// Precision::F16) == "gemm_tc<__half>". (A build-time table of ptxas resources is keyed by it.)
inline std::string typed_kernel_name(std::string_view kernel, Precision p) {
  return std::string(kernel) + "<" + precision_device_type(p) + ">";
}

// x rounded to the precision's nearest value (ties to even) and widened back to fp32, bit-exactly as
// __float2half_rn / __float2bfloat16_rn then back: overflow goes to +-inf, fp16 subnormals are kept,
// NaN stays NaN. Lets the CPU references see exactly the inputs the GPU sees.
float round_to_precision(float x, Precision p);

// The raw 16-bit encodings (round to nearest even), exposed for tests and for host-side conversion.
uint16_t float_to_half_bits(float x);
float half_bits_to_float(uint16_t h);
uint16_t float_to_bf16_bits(float x);
float bf16_bits_to_float(uint16_t b);

}  // namespace dstack::kernels
