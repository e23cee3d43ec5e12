#pragma once
// Reading `ptxas -v` output: each kernel's real registers, shared memory and spills per
// architecture, as the compiler allocated them. cmake/ptxas_capture.sh keeps that output next to
// each object of dstack_kernels_cuda; tools/gen_kernel_resources.cc turns it into the table of
// kernels/kernel_resources.h. Plain C++ (no CUDA header): it runs at build time on the host.
#include <string>
#include <string_view>
#include <vector>

namespace dstack::kernels {

// One __global__ function compiled for one architecture.
struct PtxasKernelReport {
  std::string kernel;       // short name: demangled, no namespaces, no parameters ("gemm_tc<__half>")
  std::string mangled;      // as ptxas printed it
  int arch = 0;             // 80 for sm_80 (and sm_80a-style suffixes), 90 for sm_90
  int registers = 0;        // per thread
  int shared_bytes = 0;     // static shared memory per block (dynamic comes at launch)
  int constant_bytes = 0;   // all constant banks ptxas lists (cmem[0] holds the parameters)
  int stack_frame_bytes = 0;
  int spill_store_bytes = 0;
  int spill_load_bytes = 0;
  int barriers = 0;         // named barriers (__syncthreads uses barrier 0)

  bool operator==(const PtxasKernelReport&) const = default;
};

// Parses the text of `ptxas -v` (or nvcc -Xptxas=-v) output: one record per "Compiling entry
// function" line, in order. `source` names the text in errors (a file path). Lines that are not
// ptxas output, an entry without its "Used N registers" line, or an unreadable resource item throw
// std::invalid_argument naming `source`, the line number and the line. Other "ptxas info" lines
// (gmem, compile time) and device functions' properties are skipped: they are not kernels.
std::vector<PtxasKernelReport> parse_ptxas_report(std::string_view text, std::string_view source = "<ptxas output>");

// abi::__cxa_demangle of an Itanium-mangled name ("_Z..."); an unmangled name (extern "C") comes
// back as it is. Throws std::invalid_argument when a "_Z" name cannot be demangled.
std::string demangle_symbol(std::string_view mangled);

// The name dstack's launch functions report in LaunchGeometry::kernel, from a demangled name:
// namespaces (including "(anonymous namespace)"), the return type of a template and the parameter
// list go; template arguments stay as the demangler prints them. "void dstack::kernels::(anonymous
// namespace)::gemm_tc<__half>(int, float const*)" -> "gemm_tc<__half>".
std::string short_kernel_name(std::string_view demangled);

// All reports of several objects as one table sorted by (kernel, arch). The same mangled kernel met
// twice (an inline kernel in two objects) is kept once if both agree. Throws std::invalid_argument
// when two different kernels share a short name on an architecture (the table could not tell their
// launches apart: rename one) or one kernel reports two different resource sets.
std::vector<PtxasKernelReport> merge_ptxas_reports(const std::vector<std::vector<PtxasKernelReport>>& reports);

}  // namespace dstack::kernels
