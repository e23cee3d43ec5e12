// Simulated profiles: every (batch, SMs) point and every kernel, written as CSV + sidecar and read
// back; deterministic files; the curve a knee is taken from.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "models/zoo.h"
#include "runtime/analysis/profile.h"
#include "test/test_files.h"

namespace dstack::analysis {
namespace {
namespace fs = std::filesystem;

const sim::DeviceSpec& h100() {
  static const sim::DeviceSpec d = sim::load_device("h100_sxm");
  return d;
}

Profile resnet18_profile() {
  static const models::Model m = models::build_zoo_model("resnet18", models::BuildOptions{.weights = false});
  const SimProfileOptions o{{1, 4}, {8, 64, 132}, kernels::Precision::F32, sim::SimMode::fast, DispatchMode::graph};
  return simulated_profile(m.graph, "resnet18", o, h100(), sim::RooflineCostModel{}, "test");
}

using test::slurp;

fs::path temp_dir(const std::string& name) { return test::fresh_temp_dir("profile_" + name); }

TEST(SimulatedProfile, EveryPointAndKernel) {
  const Profile p = resnet18_profile();
  ASSERT_EQ(p.models.size(), 6u);
  EXPECT_EQ(p.provenance["backend"], "simulated");
  EXPECT_EQ(p.provenance["device"], "h100_sxm");
  for (const auto& r : p.models) EXPECT_GT(r.point.latency_ms, 0);
  // Latency falls (or stays) with SMs at each batch, and grows with batch at each SMs.
  for (int b = 0; b < 2; ++b)
    for (int s = 1; s < 3; ++s) EXPECT_LE(p.models[b * 3 + s].point.latency_ms, p.models[b * 3 + s - 1].point.latency_ms);
  for (int s = 0; s < 3; ++s) EXPECT_GT(p.models[3 + s].point.latency_ms, p.models[s].point.latency_ms);
  // Every kernel of every point, each no longer than its run.
  const std::size_t per_point = p.kernels.size() / 6;
  EXPECT_GT(per_point, 10u);
  EXPECT_EQ(p.kernels.size(), 6 * per_point);
  for (const auto& k : p.kernels) {
    EXPECT_GT(k.time_us, 0);
    EXPECT_FALSE(k.kernel.empty());
  }
}

TEST(SimulatedProfile, WrittenAndReadBackDeterministically) {
  const fs::path dir = temp_dir("roundtrip");
  write_profile(resnet18_profile(), dir / "a" / "p.csv");
  write_profile(resnet18_profile(), dir / "b" / "p.csv");
  EXPECT_EQ(slurp(dir / "a" / "p.csv"), slurp(dir / "b" / "p.csv"));
  EXPECT_EQ(slurp(dir / "a" / "p.kernels.csv"), slurp(dir / "b" / "p.kernels.csv"));
  EXPECT_NE(slurp(dir / "a" / "p.csv").find("# backend: simulated"), std::string::npos);
  const Profile back = read_profile(dir / "a" / "p.csv");
  ASSERT_EQ(back.models.size(), 6u);
  EXPECT_EQ(back.models[4].point.sms, 64);
  EXPECT_EQ(back.models[4].point.batch, 4);
  EXPECT_EQ(back.provenance["simulated"], true);
  EXPECT_EQ(back.provenance["files"]["kernels"], "p.kernels.csv");
  EXPECT_TRUE(back.provenance.contains("date"));
}

TEST(SimulatedProfile, CurveOfOneModelAndBatch) {
  std::vector<sim::ProfilePoint> points;
  for (const auto& r : resnet18_profile().models) points.push_back(r.point);
  const auto c = profiled_curve(points, "resnet18", 4, kernels::Precision::F32);
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0].first, 8);
  EXPECT_EQ(c[2].first, 132);
  EXPECT_TRUE(profiled_curve(points, "resnet18", 2, kernels::Precision::F32).empty());
  EXPECT_TRUE(profiled_curve(points, "resnet18", 4, kernels::Precision::F16).empty());
}

TEST(SimulatedProfile, UnwritableFolderIsNamed) {
  try {
    write_profile(resnet18_profile(), "/proc/dstack_cannot_write/p.csv");
    FAIL();
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("dstack_cannot_write"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace dstack::analysis
