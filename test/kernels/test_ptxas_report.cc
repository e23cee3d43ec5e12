// Reading ptxas -v output (kernels/ptxas_report.h): real captured reports (fixtures/) and odd cases.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/kernel_resources.h"
#include "kernels/occupancy.h"
#include "kernels/ptxas_report.h"

namespace dstack::kernels {
namespace {

std::string fixture(const std::string& name) {
  const std::string path = std::string(DSTACK_FIXTURE_DIR) + "/" + name;
  std::ifstream in(path);
  if (!in) throw std::runtime_error("missing fixture " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

const PtxasKernelReport& find(const std::vector<PtxasKernelReport>& rs, const std::string& kernel, int arch) {
  for (const auto& r : rs)
    if (r.kernel == kernel && r.arch == arch) return r;
  throw std::runtime_error("no " + kernel + " for sm_" + std::to_string(arch));
}

// Expects parse_ptxas_report(text) to throw with a message containing each of `parts`.
void expect_error(const std::string& text, const std::vector<std::string>& parts) {
  try {
    parse_ptxas_report(text, "report.txt");
    ADD_FAILURE() << "no error for:\n" << text;
  } catch (const std::invalid_argument& e) {
    for (const auto& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

TEST(PtxasReport, ReadsConv2dCompiledForTwoArchs) {
  const auto rs = parse_ptxas_report(fixture("conv2d_sm80_sm90.ptxas.txt"));
  ASSERT_EQ(rs.size(), 4u);
  const auto& gemm80 = find(rs, "conv2d_implicit_gemm_f32", 80);
  EXPECT_EQ(gemm80.registers, 80);
  EXPECT_EQ(gemm80.barriers, 1);
  EXPECT_EQ(gemm80.shared_bytes, 8448);
  EXPECT_EQ(gemm80.constant_bytes, 472 + 384);  // cmem[0] + cmem[2]
  EXPECT_EQ(gemm80.stack_frame_bytes, 0);
  EXPECT_EQ(gemm80.mangled,
            "_ZN6dstack7kernels41_GLOBAL__N__1396c746_9_conv2d_cu_4616d0b024conv2d_implicit_gemm_f32ENS0_"
            "11Conv2dShapeEPKfS4_S4_S4_NS0_16ActivationParamsEPf");
  const auto& gemm90 = find(rs, "conv2d_implicit_gemm_f32", 90);
  EXPECT_EQ(gemm90.registers, 80);
  EXPECT_EQ(gemm90.shared_bytes, 8448);
  EXPECT_EQ(gemm90.constant_bytes, 0);  // sm_90 lists no cmem
  const auto& dw80 = find(rs, "conv2d_depthwise_f32", 80);
  EXPECT_EQ(dw80.registers, 38);
  EXPECT_EQ(dw80.shared_bytes, 0);
  EXPECT_EQ(dw80.barriers, 0);
  EXPECT_EQ(find(rs, "conv2d_depthwise_f32", 90).registers, 48);
}

TEST(PtxasReport, ReadsTemplatesSpillsDeviceFunctionsAndExternC) {
  const auto rs = parse_ptxas_report(fixture("odd_kernels.ptxas.txt"));
  ASSERT_EQ(rs.size(), 8u);  // 4 kernels x 2 archs; the noinline helper is not a kernel
  const auto& spill80 = find(rs, "spiller", 80);  // in an anonymous namespace
  EXPECT_EQ(spill80.registers, 32);
  EXPECT_EQ(spill80.stack_frame_bytes, 576);
  EXPECT_EQ(spill80.spill_store_bytes, 288);
  EXPECT_EQ(spill80.spill_load_bytes, 296);
  EXPECT_EQ(spill80.constant_bytes, 372);
  const auto& spill90 = find(rs, "spiller", 90);
  EXPECT_EQ(spill90.spill_store_bytes, 292);
  EXPECT_EQ(spill90.spill_load_bytes, 312);
  const auto& half = find(rs, "gemm_tc<__half>", 90);
  EXPECT_EQ(half.mangled, "_ZN6dstack7kernels7gemm_tcI6__halfEEviPKT_Pf");
  EXPECT_EQ(half.shared_bytes, 1024);
  EXPECT_EQ(half.barriers, 1);
  EXPECT_EQ(find(rs, "gemm_tc<float>", 80).registers, 10);
  EXPECT_EQ(find(rs, "plain_c_kernel", 80).registers, 8);
  EXPECT_EQ(find(rs, "plain_c_kernel", 90).registers, 10);
}

TEST(PtxasReport, AnEntryWithoutPropertiesBlockHasNoSpills) {
  const auto rs = parse_ptxas_report(
      "ptxas info    : Compiling entry function 'k' for 'sm_90a'\n"
      "ptxas info    : Used 12 registers, used 0 barriers, 16 bytes smem\r\n"
      "\n");
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].arch, 90);
  EXPECT_EQ(rs[0].registers, 12);
  EXPECT_EQ(rs[0].shared_bytes, 16);
  EXPECT_EQ(rs[0].stack_frame_bytes, 0);
  EXPECT_EQ(rs[0].spill_store_bytes, 0);
}

TEST(PtxasReport, WarningsAndOtherInfoLinesAreSkipped) {
  const auto rs = parse_ptxas_report(
      "ptxas info    : 0 bytes gmem, 24 bytes cmem[3]\n"
      "ptxas warning : Value of threads per SM for entry k is out of range\n"
      "ptxas info    : Compiling entry function 'k' for 'sm_80'\n"
      "ptxas info    : Used 3 registers, 2 textures\n"
      "ptxas info    : Compile time = 1.0 ms\n");
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].registers, 3);
}

TEST(PtxasReport, EmptyReportHasNoKernels) { EXPECT_TRUE(parse_ptxas_report("").empty()); }

TEST(PtxasReport, MalformedInputNamesTheLine) {
  expect_error("ptxas info    : Compiling entry function 'k' for 'sm_80'\nnvcc fatal : oops\n",
               {"report.txt:2:", "not a line of ptxas output", "nvcc fatal"});
  expect_error("ptxas info    : Compiling entry function 'k' for 'compute_80'\n", {"report.txt:1:", "sm_<number>"});
  expect_error("ptxas info    : Compiling entry function 'k' for 'sm_80'\nptxas info    : Used many registers\n",
               {"report.txt:2:", "'Used many registers'"});
  expect_error("ptxas info    : Used 3 registers\n", {"report.txt:1:", "outside an entry function"});
  expect_error("ptxas info    : Compiling entry function 'k' for 'sm_80'\n"
               "ptxas info    : Compiling entry function 'j' for 'sm_80'\n",
               {"report.txt:1:", "'k'", "no 'Used <n> registers' line before line 2"});
  expect_error("ptxas info    : Compiling entry function 'k' for 'sm_80'\n", {"before the end of the report"});
  expect_error("ptxas info    : Compiling entry function 'k' for 'sm_80'\n"
               "ptxas info    : Function properties for k\n"
               "    8 bytes stack frame, lots of spill stores, 0 bytes spill loads\n",
               {"report.txt:3:", "bytes spill stores"});
  expect_error("    8 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n",
               {"report.txt:1:", "without a 'Function properties for'"});
  expect_error("ptxas info    : Compiling entry function '_Z!!x' for 'sm_80'\n", {"cannot demangle", "_Z!!x"});
}

TEST(PtxasReport, ShortNames) {
  EXPECT_EQ(short_kernel_name("dstack::kernels::(anonymous namespace)::conv2d_implicit_gemm_f32(dstack::kernels::"
                              "Conv2dShape, float const*, float*)"),
            "conv2d_implicit_gemm_f32");
  EXPECT_EQ(short_kernel_name("void dstack::kernels::gemm_tc<__half>(int, __half const*, float*)"), "gemm_tc<__half>");
  EXPECT_EQ(short_kernel_name("void dstack::kernels::(anonymous namespace)::gemm_tiled<float>(int)"),
            "gemm_tiled<float>");
  // Template arguments stay as printed, qualifiers inside them included.
  EXPECT_EQ(short_kernel_name("void ns::copy<ns::Pair<int, float>, 4u>(ns::Pair<int, float>*)"),
            "copy<ns::Pair<int, float>, 4u>");
  EXPECT_EQ(short_kernel_name("plain_c_kernel"), "plain_c_kernel");
  EXPECT_EQ(short_kernel_name("k()"), "k");
}

TEST(PtxasReport, Demangles) {
  EXPECT_EQ(demangle_symbol("_ZN6dstack7kernels7gemm_tcI6__halfEEviPKT_Pf"),
            "void dstack::kernels::gemm_tc<__half>(int, __half const*, float*)");
  EXPECT_EQ(demangle_symbol("plain_c_kernel"), "plain_c_kernel");
  EXPECT_THROW(demangle_symbol("_Z!!"), std::invalid_argument);
}

TEST(PtxasReport, MergeSortsAndDeduplicates) {
  const auto conv = parse_ptxas_report(fixture("conv2d_sm80_sm90.ptxas.txt"));
  const auto odd = parse_ptxas_report(fixture("odd_kernels.ptxas.txt"));
  const auto all = merge_ptxas_reports({odd, conv, conv});  // conv twice: an inline kernel in two objects
  ASSERT_EQ(all.size(), 12u);
  for (size_t i = 1; i < all.size(); ++i)
    EXPECT_LT(std::pair(all[i - 1].kernel, all[i - 1].arch), std::pair(all[i].kernel, all[i].arch));
}

TEST(PtxasReport, MergeRejectsTwoKernelsWithOneShortName) {
  auto a = parse_ptxas_report("ptxas info    : Compiling entry function '_ZN1a4copyEv' for 'sm_80'\n"
                              "ptxas info    : Used 3 registers\n");
  auto b = parse_ptxas_report("ptxas info    : Compiling entry function '_ZN1b4copyEv' for 'sm_80'\n"
                              "ptxas info    : Used 3 registers\n");
  ASSERT_EQ(a.at(0).kernel, "copy");
  try {
    merge_ptxas_reports({a, b});
    ADD_FAILURE() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("'copy' on sm_80 is two different functions"), std::string::npos) << e.what();
  }
  auto a2 = a;
  a2[0].registers = 4;
  EXPECT_THROW(merge_ptxas_reports({a, a2}), std::invalid_argument);
}

// The generated table of this build (kernels/kernel_resources.h): full with CUDA, empty and saying
// why without.
TEST(KernelResourceTable, MatchesTheBuild) {
  const auto table = kernel_resource_table();
  if (!DSTACK_TABLE_EXPECTED) {
    EXPECT_FALSE(kernel_resources_available());
    EXPECT_EQ(kernel_resources_unavailable_reason(), "built without CUDA: no compiled kernels to read");
    EXPECT_TRUE(table.empty());
    EXPECT_TRUE(kernel_resource_archs().empty());
    EXPECT_FALSE(find_kernel_resources("gemm_tiled<float>", 90));
    EXPECT_FALSE(kernel_resources_arch_for_device(90));
    return;
  }
  ASSERT_TRUE(kernel_resources_available());
  EXPECT_EQ(kernel_resources_unavailable_reason(), "");
  ASSERT_FALSE(table.empty());
  for (size_t i = 1; i < table.size(); ++i)
    EXPECT_LT(std::pair(table[i - 1].kernel, table[i - 1].arch), std::pair(table[i].kernel, table[i].arch));
  for (const KernelResources& r : table) {
    SCOPED_TRACE(std::string(r.kernel) + " sm_" + std::to_string(r.arch));
    const auto found = find_kernel_resources(r.kernel, r.arch);
    ASSERT_TRUE(found);
    EXPECT_EQ(found->mangled, r.mangled);
    EXPECT_GT(r.registers, 0);
    EXPECT_LE(r.registers, 255);
    EXPECT_EQ(r.kernel.find("::"), std::string_view::npos);  // short names only
    EXPECT_EQ(r.kernel.find('('), std::string_view::npos);
  }
  EXPECT_FALSE(find_kernel_resources("no_such_kernel", table[0].arch));
  EXPECT_FALSE(find_kernel_resources(table[0].kernel, 75));
}

TEST(KernelResourceTable, DeviceRunsTheNewestCodeOfItsMajorVersion) {
  const std::vector<int> archs = kernel_resource_archs();
  for (const SmLimits& sm : known_sm_limits()) {
    const auto code = kernel_resources_arch_for_device(sm.arch);
    int expected = 0;
    for (int a : archs)
      if (a / 10 == sm.arch / 10 && a <= sm.arch) expected = a;
    EXPECT_EQ(code.value_or(0), expected) << "sm_" << sm.arch;
  }
}

}  // namespace
}  // namespace dstack::kernels
