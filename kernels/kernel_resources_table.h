#pragma once
// What the generated source (tools/gen_kernel_resources.cc writes it into the build tree) defines.
// Only kernels/kernel_resources.cc reads it; everyone else uses kernels/kernel_resources.h.
#include <span>
#include <string_view>

#include "kernels/kernel_resources.h"

namespace dstack::kernels::generated {

// Sorted by (kernel, arch).
std::span<const KernelResources> kernel_resource_rows();
// Empty when the table was generated from compiled kernels.
std::string_view kernel_resources_unavailable_reason();

}  // namespace dstack::kernels::generated
