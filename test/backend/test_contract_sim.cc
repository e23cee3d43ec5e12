// The backend contract on the simulator, and on the simulator paced to the wall clock.
#include <memory>

#include "models/zoo.h"
#include "runtime/backend/paced_backend.h"
#include "runtime/sim/sim_backend.h"
#include "test/backend/backend_contract.h"

namespace dstack::test {
namespace {

std::unique_ptr<sim::SimBackend> simulator() {
  static const sim::DeviceSpec h100 = sim::load_device("h100_sxm");
  auto b = std::make_unique<sim::SimBackend>(h100, sim::SimMode::fast);
  for (const char* m : {kSmallModel, kLargeModel})
    b->add_model(m, std::make_shared<const models::Graph>(
                        models::build_zoo_model(m, models::BuildOptions{.weights = false}).graph));
  return b;
}

INSTANTIATE_TEST_SUITE_P(
    Simulator, BackendContract,
    ::testing::Values(ContractBackend{"sim", {}, [] { return std::unique_ptr<Backend>(simulator()); }, false},
                      ContractBackend{"sim_realtime", {},
                                      [] { return std::unique_ptr<Backend>(std::make_unique<PacedBackend>(simulator())); },
                                      true}),
    contract_name);

}  // namespace
}  // namespace dstack::test
