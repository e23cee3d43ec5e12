// The contract between the plans and the kernel resource table: every kernel a zoo model's plan
// launches (LaunchGeometry::kernel, from the launch functions in kernels/<family>.h) is a kernel
// ptxas compiled, on every architecture of the build, and its launch fits that code's resources.
// A renamed kernel, a launch function naming a kernel that does not exist, or a shared-memory size
// out of step with the kernel's own arrays fails here, on the CPU.
#include <gtest/gtest.h>

#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/kernel_resources.h"
#include "kernels/precision.h"
#include "kernels/occupancy.h"
#include "models/plan.h"
#include "models/zoo.h"

namespace dstack {
namespace {

// DSTACK_CUDA_ARCHITECTURES of this build, comma-separated, e.g. "80,90".
std::vector<int> configured_archs() {
  std::vector<int> archs;
  std::stringstream s(DSTACK_TABLE_ARCHS);
  for (std::string a; std::getline(s, a, ',');) archs.push_back(std::stoi(a));
  return archs;
}

TEST(KernelTableContract, TableHoldsTheConfiguredArchitectures) {
  ASSERT_TRUE(kernels::kernel_resources_available()) << kernels::kernel_resources_unavailable_reason();
  EXPECT_EQ(kernels::kernel_resource_archs(), configured_archs());
}

// One launch against the table on one architecture; false when the table has no entry.
bool check_launch(const kernels::LaunchGeometry& g, int arch) {
  const auto res = kernels::find_kernel_resources(g.kernel, arch);
  if (!res) return false;
  // The launch's shared memory counts the kernel's static arrays (kernels/launch.h).
  EXPECT_GE(g.shared_bytes, static_cast<std::size_t>(res->shared_bytes)) << g.kernel << " sm_" << arch;
  // And the block fits the SM it was compiled for (occupancy throws when it cannot run at all).
  EXPECT_GE(kernels::occupancy(g, *res, kernels::sm_limits(arch)).blocks_per_sm, 1) << g.kernel << " sm_" << arch;
  return true;
}

TEST(KernelTableContract, EveryZooLaunchHasResourcesOnEveryArch) {
  std::map<std::string, std::string> missing;  // kernel and arch -> the first launch of it
  int launches = 0;
  for (const models::ZooEntry& e : models::zoo()) {
    const models::Model m = e.build(models::BuildOptions{.seed = 1, .weights = false});
    for (int64_t batch : {1, 8})
      for (kernels::Precision precision :
           {kernels::Precision::F32, kernels::Precision::F16, kernels::Precision::BF16}) {
        SCOPED_TRACE(e.name + " batch " + std::to_string(batch) + " " + kernels::precision_name(precision));
        for (const models::KernelLaunch& k : models::lower(m.graph, batch, precision).kernels)
          for (const kernels::LaunchGeometry& g : k.launches) {
            ++launches;
            for (int arch : configured_archs())
              if (!check_launch(g, arch))
                missing.try_emplace("'" + g.kernel + "' on sm_" + std::to_string(arch),
                                    e.name + " " + kernels::precision_name(precision) + " " + k.name);
          }
      }
  }
  EXPECT_GT(launches, 0);
  std::string list;
  for (const auto& [what, where] : missing) list += "\n  " + what + " (" + where + ")";
  EXPECT_TRUE(missing.empty()) << missing.size() << " launched kernels have no entry in the ptxas table (first "
                               << "model and node shown):" << list;
}

}  // namespace
}  // namespace dstack
