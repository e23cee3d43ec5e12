// SimBackend, the Backend interface a scheduler drives: submissions, completions on the simulated
// clock, partition layouts and their costs, determinism of a serving-style sequence; plus the
// calibration and profile files.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "models/zoo.h"
#include "runtime/sim/profile.h"
#include "runtime/sim/sim_backend.h"
#include "runtime/sim/simulate.h"
#include "sim_test_util.h"

namespace dstack::sim {
namespace {

using test::h100;


std::shared_ptr<const models::Graph> graph(const std::string& name) {
  static std::map<std::string, std::shared_ptr<const models::Graph>> cache;
  auto& g = cache[name];
  if (!g)
    g = std::make_shared<const models::Graph>(
        models::build_zoo_model(name, models::BuildOptions{.weights = false}).graph);
  return g;
}

const std::vector<std::string> kModels = {"resnet50", "mobilenet_v2", "vgg16", "bert_base"};

// Four models in four partitions, batch after batch; the completions as text.
std::string serve_trace(SimMode mode) {
  SimBackend b(h100(), mode);
  for (const auto& m : kModels) b.add_model(m, graph(m));
  b.set_layout(PartitionLayout{{32, 32, 32, 24}});
  for (int i = 0; i < 4; ++i)
    b.submit(RunRequest{.model = kModels[i], .batch = 2, .partition = i, .tag = static_cast<uint64_t>(i)});
  std::ostringstream trace;
  int done = 0;
  while (auto c = b.run_until(INFINITY)) {
    trace.precision(17);
    trace << c->id << " " << c->request.model << " " << c->submitted_s << " " << c->started_s << " " << c->finished_s
          << "\n";
    if (++done <= 8) b.submit(RunRequest{.model = c->request.model, .batch = 2, .partition = c->request.partition});
  }
  return trace.str();
}

TEST(SimBackend, ServingSequenceIsDeterministic) {
  for (SimMode mode : {SimMode::fast, SimMode::block}) {
    const std::string a = serve_trace(mode);
    EXPECT_EQ(a, serve_trace(mode));
    EXPECT_EQ(std::count(a.begin(), a.end(), '\n'), 12);
  }
}

TEST(SimBackend, CompletionsComeInTimeOrderOnTheBackendClock) {
  SimBackend b(h100(), SimMode::fast);
  b.add_model("resnet50", graph("resnet50"));
  EXPECT_EQ(b.layout().partitions.size(), 1u);  // the whole GPU to start with
  EXPECT_TRUE(b.layout().whole_gpu);
  b.submit(RunRequest{.model = "resnet50", .batch = 8});
  b.submit(RunRequest{.model = "resnet50", .batch = 1});
  EXPECT_EQ(b.in_flight(), 2);
  EXPECT_FALSE(b.run_until(1e-6).has_value());
  EXPECT_DOUBLE_EQ(b.now(), 1e-6);
  auto first = b.run_until(INFINITY);
  auto second = b.run_until(INFINITY);
  ASSERT_TRUE(first && second);
  EXPECT_LE(first->finished_s, second->finished_s);
  EXPECT_EQ(first->request.batch, 1);  // the small batch ends first though submitted second
  EXPECT_EQ(first->partition_sms, 132);
  EXPECT_EQ(b.in_flight(), 0);
  EXPECT_FALSE(b.run_until(INFINITY).has_value());
  EXPECT_NE(b.describe().find("simulated h100_sxm"), std::string::npos);
}

TEST(SimBackend, LayoutChangesCostPartitionCreationAndNeedAnIdleGpu) {
  SimBackend b(h100(), SimMode::fast);
  b.add_model("alexnet", graph("alexnet"));
  const ResolvedLayout l = b.set_layout(PartitionLayout{{60, 56}});
  EXPECT_EQ(l.partitions[0].sms, 64);  // rounded up to whole groups of 8
  b.submit(RunRequest{.model = "alexnet", .batch = 1, .partition = 1});
  EXPECT_THROW(b.set_layout(PartitionLayout{{132}}), std::logic_error);
  auto c = b.run_until(INFINITY);
  ASSERT_TRUE(c);
  // Two new partitions, created one after the other before the run could start.
  EXPECT_GE(c->started_s, 2 * h100().timing.partition_create_us * 1e-6);
  EXPECT_THROW(b.submit(RunRequest{.model = "alexnet", .partition = 2}), std::invalid_argument);
  EXPECT_THROW(b.submit(RunRequest{.model = "nope"}), std::invalid_argument);
}

TEST(SimBackend, MovingAModelToAnotherPartitionCostsASwitch) {
  auto run_on = [](int second_partition) {
    SimBackend b(h100(), SimMode::fast);
    b.add_model("alexnet", graph("alexnet"));
    b.set_layout(PartitionLayout{{56, 56}});
    b.run_until(1.0);  // partitions exist
    b.submit(RunRequest{.model = "alexnet", .batch = 1, .partition = 0});
    b.run_until(INFINITY);
    const double t = b.now();
    b.submit(RunRequest{.model = "alexnet", .batch = 1, .partition = second_partition});
    auto c = b.run_until(INFINITY);
    return c->finished_s - t;
  };
  EXPECT_NEAR(run_on(1) - run_on(0), h100().timing.partition_switch_us * 1e-6, 1e-9);
}

TEST(SimCalibration, MeasuredKernelTimesReplaceTheRoofline) {
  const auto dir = std::filesystem::temp_directory_path() / "dstack_test_calibration";
  std::filesystem::create_directories(dir);
  models::Plan plan = models::lower(*graph("alexnet"), 1);
  plan.model = "alexnet";
  const auto& g = plan.kernels[0].launches[0];
  std::ofstream(dir / "times.csv") << "kernel,grid,block,time_us\n"
                                   << g.kernel << "," << g.grid.x << "x" << g.grid.y << "x" << g.grid.z << ","
                                   << g.block.count() << ",123.5\n";
  const MeasuredKernelTimes times = read_kernel_times_csv(dir / "times.csv");
  EXPECT_EQ(times.size(), 1u);
  const CalibratedCostModel calibrated(times);
  const SimPlan sp = prepare_plan(plan, h100(), calibrated);
  auto one = std::make_shared<SimPlan>(sp);
  one->kernels.resize(1);
  const BatchSimulation s = simulate_plan(one, h100(), h100().sm_count, SimMode::fast, DispatchMode::graph);
  const KernelTiming& kt = s.timing.kernels.at(0);
  EXPECT_NEAR((kt.end_s - kt.start_s) * 1e6, 123.5, 1e-6);
  EXPECT_NE(sp.cost_model.find("calibrated from"), std::string::npos);
  std::ofstream(dir / "bad.csv") << "kernel,grid,block,time_us\nx,1,1,-3\n";
  EXPECT_THROW(read_kernel_times_csv(dir / "bad.csv"), std::invalid_argument);
  for (const char* row : {"x,1,1,inf", "x,1,1,nan", "x,1x2199023255552,1,5"}) {
    std::ofstream(dir / "bad.csv") << "kernel,grid,block,time_us\n" << row << "\n";
    EXPECT_THROW(read_kernel_times_csv(dir / "bad.csv"), std::invalid_argument) << row;
  }
  std::filesystem::remove_all(dir);
}

TEST(SimCalibration, AProfilesKernelFileCalibratesFromItsWholeGpuRows) {
  const auto dir = std::filesystem::temp_directory_path() / "dstack_test_calibration_profile";
  std::filesystem::create_directories(dir);
  models::Plan plan = models::lower(*graph("alexnet"), 1);
  plan.model = "alexnet";
  ASSERT_EQ(plan.kernels[0].launches.size(), 1u) << "the test takes node 0 to be one launch";
  // The rows on 8 SMs are not the reference; the whole GPU's (132) are.
  std::ofstream(dir / "p.kernels.csv") << "# backend: measured\nmodel,batch,sms,precision,index,kernel,time_us\n"
                                       << "alexnet,1,8,fp32,0,k,900\nalexnet,1,132,fp32,0,k,123.5\n"
                                       << "alexnet,4,132,fp32,0,k,400\n";
  const MeasuredKernelTimes times = read_kernel_times_csv(dir / "p.kernels.csv");
  EXPECT_EQ(times.by_node.size(), 2u);
  const SimPlan sp = prepare_plan(plan, h100(), CalibratedCostModel(times));
  auto one = std::make_shared<SimPlan>(sp);
  one->kernels.resize(1);
  const BatchSimulation s = simulate_plan(one, h100(), h100().sm_count, SimMode::fast, DispatchMode::graph);
  const KernelTiming& kt = s.timing.kernels.at(0);
  EXPECT_NEAR((kt.end_s - kt.start_s) * 1e6, 123.5, 1e-6);
  // Unmeasured batches: linear between batches 1 and 4 (2: 123.5 + (400 - 123.5) / 3), proportional
  // above the largest (8: 2 x 400).
  const CalibratedCostModel model(times);
  for (const auto& [batch, want_us] : std::vector<std::pair<int64_t, double>>{{2, 215.6667}, {8, 800}}) {
    models::Plan p = models::lower(*graph("alexnet"), batch);
    p.model = "alexnet";
    ASSERT_EQ(p.kernels[0].launches.size(), 1u);
    auto first = std::make_shared<SimPlan>(prepare_plan(p, h100(), model));
    first->kernels.resize(1);
    const BatchSimulation b = simulate_plan(first, h100(), h100().sm_count, SimMode::fast, DispatchMode::graph);
    EXPECT_NEAR((b.timing.kernels.at(0).end_s - b.timing.kernels.at(0).start_s) * 1e6, want_us, 1e-3) << "batch " << batch;
  }
  std::ofstream(dir / "mixed.csv") << "model,batch,sms,precision,index,kernel,time_us\n"
                                   << "alexnet,1,132,fp32,0,k,1\nalexnet,1,132,fp16,0,k,1\n";
  try {
    read_kernel_times_csv(dir / "mixed.csv");
    ADD_FAILURE() << "two precisions were accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("precision fp16 beside fp32"), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(dir);
}

TEST(SimProfile, CsvRoundTripAndValidationSummary) {
  std::vector<ProfilePoint> pts = {{"resnet50", 1, 8, kernels::Precision::F32, 2.0},
                                   {"alexnet", 8, 132, kernels::Precision::F16, 1.0},
                                   {"vgg16", 2, 16, kernels::Precision::F32, 4.0}};
  const auto file = std::filesystem::temp_directory_path() / "dstack_test_profile.csv";
  {
    std::ofstream out(file);
    write_profile_csv(out, pts, {"simulated: true"});
  }
  const auto back = read_profile_csv(file);
  ASSERT_EQ(back.size(), 3u);
  EXPECT_EQ(back[1].model, "alexnet");
  EXPECT_EQ(back[1].precision, kernels::Precision::F16);
  EXPECT_EQ(back[2].sms, 16);
  const ValidationReport r = validate_profile(back, [](const ProfilePoint& p) { return p.latency_ms * 1.1; });
  EXPECT_NEAR(r.median_relative_error, 0.1, 1e-9);
  EXPECT_NEAR(r.max_relative_error, 0.1, 1e-9);
  std::ofstream(file) << "model,batch,latency_ms\nresnet50,1,2\n";
  try {
    read_profile_csv(file);
    ADD_FAILURE();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("no column 'sms'"), std::string::npos) << e.what();
  }
  // Found by fuzz_profile_csv: a column named twice made rows as short as the distinct names pass,
  // and the last column's index then read past the row (a heap overflow under ASan).
  std::ofstream(file) << "model,batch,sms,latency_ms,model\nresnet50,1,8,2\n";
  try {
    read_profile_csv(file);
    ADD_FAILURE();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find(":1: column 'model' appears twice in the header"), std::string::npos)
        << e.what();
  }
  for (const char* bad : {"inf", "nan", "1e999"}) {
    std::ofstream(file) << "model,batch,sms,latency_ms\nresnet50,1,8," << bad << "\n";
    EXPECT_THROW(read_profile_csv(file), std::invalid_argument) << bad;
  }
  std::filesystem::remove(file);
}

}  // namespace
}  // namespace dstack::sim
