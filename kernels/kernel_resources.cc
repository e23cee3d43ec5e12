#include "kernels/kernel_resources.h"

#include <algorithm>

#include "kernels/kernel_resources_table.h"

namespace dstack::kernels {

std::span<const KernelResources> kernel_resource_table() { return generated::kernel_resource_rows(); }

std::optional<KernelResources> find_kernel_resources(std::string_view kernel, int sm_arch) {
  const auto table = kernel_resource_table();
  // Sorted by (kernel, arch) by the generator.
  const auto it = std::lower_bound(table.begin(), table.end(), std::pair(kernel, sm_arch),
                                   [](const KernelResources& r, const std::pair<std::string_view, int>& key) {
                                     return std::pair(r.kernel, r.arch) < key;
                                   });
  if (it == table.end() || it->kernel != kernel || it->arch != sm_arch) return std::nullopt;
  return *it;
}

bool kernel_resources_available() { return generated::kernel_resources_unavailable_reason().empty(); }

std::string_view kernel_resources_unavailable_reason() { return generated::kernel_resources_unavailable_reason(); }

std::vector<int> kernel_resource_archs() {
  std::vector<int> archs;
  for (const KernelResources& r : kernel_resource_table()) archs.push_back(r.arch);
  std::sort(archs.begin(), archs.end());
  archs.erase(std::unique(archs.begin(), archs.end()), archs.end());
  return archs;
}

std::optional<int> kernel_resources_arch_for_device(int device_arch) {
  std::optional<int> best;
  for (int arch : kernel_resource_archs())
    if (arch / 10 == device_arch / 10 && arch <= device_arch) best = arch;
  return best;
}

}  // namespace dstack::kernels
