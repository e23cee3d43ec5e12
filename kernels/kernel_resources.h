#pragma once
// The real registers and shared memory of every dstack CUDA kernel, per architecture, read from
// ptxas at build time (cmake/ptxas_capture.sh -> tools/gen_kernel_resources.cc -> a generated
// table compiled into dstack_kernel_resources). The CPU side (plans, the parallelism model, the
// simulator) reads it to know each kernel's occupancy without a GPU. No CUDA header.
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace dstack::kernels {

// One kernel compiled for one architecture (the fields of PtxasKernelReport, as constants).
struct KernelResources {
  std::string_view kernel;   // short name, as LaunchGeometry::kernel says it ("gemm_tc<__half>")
  std::string_view mangled;  // the symbol ptxas compiled
  int arch = 0;              // 80 for sm_80, 90 for sm_90
  int registers = 0;         // per thread
  int shared_bytes = 0;      // static shared memory per block
  int constant_bytes = 0;    // all constant banks
  int stack_frame_bytes = 0;
  int spill_store_bytes = 0;
  int spill_load_bytes = 0;
  int barriers = 0;
};

// The whole table, sorted by (kernel, arch). Empty when !kernel_resources_available().
std::span<const KernelResources> kernel_resource_table();

// The record of `kernel` (LaunchGeometry::kernel) compiled for exactly sm_<sm_arch>; nullopt when
// the table has none (unknown kernel, an architecture not compiled, or no table in this build).
std::optional<KernelResources> find_kernel_resources(std::string_view kernel, int sm_arch);

// False in a build without CUDA (no compiled kernels to read); kernel_resources_unavailable_reason()
// then says why, and is empty otherwise.
bool kernel_resources_available();
std::string_view kernel_resources_unavailable_reason();

// The architectures the table holds code for, ascending (e.g. {80, 90}).
std::vector<int> kernel_resource_archs();

// The compiled architecture a device of sm_<device_arch> runs: the highest one of the same major
// version not above it (an sm_80 cubin runs on sm_86 and sm_89; an sm_90 cubin on nothing but
// sm_9x). nullopt when none fits: the driver would JIT the PTX and the table cannot say.
std::optional<int> kernel_resources_arch_for_device(int device_arch);

}  // namespace dstack::kernels
