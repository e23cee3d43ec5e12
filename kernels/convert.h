#pragma once
// Conversion between fp32 and the 16-bit storage types (fp16, bf16), on the device. The CPU side of
// it is kernels/precision.h (round_to_precision); this header holds the launch geometry.
#include <cstdint>
#include <string>

#include "kernels/launch.h"
#include "kernels/precision.h"

namespace dstack::kernels {

inline constexpr unsigned kConvertBlock = 256;
inline constexpr unsigned kConvertGridCap = 4096;  // blocks; a grid-stride loop covers the rest

// Geometry of "convert_elements<From, To>" over `count` elements (grid.x == 0: nothing launched).
inline LaunchGeometry convert_launch(int64_t count, Precision from, Precision to) {
  const std::string name = std::string("convert_elements<") + precision_device_type(from) + ", " +
                           precision_device_type(to) + ">";
  return grid_stride_launch(name.c_str(), count, kConvertBlock, kConvertGridCap);
}

}  // namespace dstack::kernels
