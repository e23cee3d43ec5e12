#pragma once
// A device's theoretical peaks, for reporting achieved TFLOP/s and GB/s as a fraction of them.
// CPU-only: computed from the attributes the driver reports (runtime/backend/gpu_info.h) and a small
// table of FP32 lanes per SM by compute capability.
#include <optional>

#include "runtime/backend/gpu_info.h"

namespace dstack::bench {

// FP32 FMA lanes per SM (results per clock of a 32-bit fused multiply-add), by compute capability.
// Source: CUDA C++ Programming Guide, "Arithmetic Instructions", throughput table row "32-bit
// floating-point add, multiply, multiply-add" (results per clock cycle per multiprocessor):
// 64 for 6.0, 7.x and 8.0 (P100, V100, T4, A100); 128 for 6.1/6.2, 8.6, 8.7, 8.9, 9.0, 10.x and 12.x
// (GA10x, Orin, Ada, H100/H200, B200, RTX 50). nullopt for a capability not in the table.
inline std::optional<int> fp32_lanes_per_sm(int cc_major, int cc_minor) {
  switch (cc_major) {
    case 6: return cc_minor == 0 ? 64 : 128;
    case 7: return 64;
    case 8: return cc_minor == 0 ? 64 : 128;
    case 9:
    case 10:
    case 12: return 128;
    default: return std::nullopt;
  }
}

struct DevicePeak {
  double fp32_flops = 0;        // FLOP/s: SMs x lanes x 2 (an FMA is 2 FLOPs) x SM clock; 0 if unknown
  double dram_bytes_per_s = 0;  // B/s: 2 (double data rate) x memory clock x bus width / 8; 0 if unknown
};

// The clock is cudaDevAttrClockRate, the boost clock (kHz): the datasheet's peaks use it too. An
// H100 SXM: 132 x 128 x 2 x 1.98 GHz = 66.9 TFLOP/s (datasheet: 67) and 2 x 2.619 GHz x 5120 / 8 =
// 3.35 TB/s (datasheet: 3.35).
inline DevicePeak device_peak(const GpuDevice& d) {
  DevicePeak p;
  if (const auto lanes = fp32_lanes_per_sm(d.cc_major, d.cc_minor))
    p.fp32_flops = double(d.sm_count) * *lanes * 2.0 * double(d.sm_clock_khz) * 1e3;
  p.dram_bytes_per_s = 2.0 * double(d.memory_clock_khz) * 1e3 * double(d.memory_bus_width_bits) / 8.0;
  return p;
}

}  // namespace dstack::bench
