#include "runtime/core/atomic_file.h"
#include "runtime/analysis/profile.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <map>
#include <memory>
#include <stdexcept>

#include "models/plan.h"
#include "runtime/sim/cost_model.h"
#include "runtime/sim/simulate.h"

namespace dstack::analysis {
namespace fs = std::filesystem;

fs::path profile_sidecar(const fs::path& csv) {
  fs::path p = csv;
  return p.replace_extension(".json");
}

fs::path profile_kernels_file(const fs::path& csv) {
  fs::path p = csv;
  return p.replace_extension(".kernels.csv");
}

namespace {

std::string comment_lines(const nlohmann::json& provenance) {
  std::string s;
  for (const auto& [key, value] : provenance.items())
    if (key != "date")  // the date lives in the sidecar so that the CSVs are reproducible
      s += fmt::format("# {}: {}\n", key, value.is_string() ? value.get<std::string>() : value.dump());
  return s;
}

}  // namespace

void write_profile(const Profile& profile, const fs::path& csv) {
  // Each file whole or not at all (AtomicFile); the sidecar, which names the other two, last.
  {
    AtomicFile file(csv);
    std::ostream& out = file.out();
    out << comment_lines(profile.provenance) << "model,batch,sms,precision,latency_ms,min_ms,max_ms,repeats\n";
    for (const auto& r : profile.models)
      out << fmt::format("{},{},{},{},{:.6f},{:.6f},{:.6f},{}\n", r.point.model, r.point.batch, r.point.sms,
                         kernels::precision_name(r.point.precision), r.point.latency_ms, r.min_ms, r.max_ms,
                         r.repeats);
    file.commit();
  }
  {
    AtomicFile file(profile_kernels_file(csv));
    std::ostream& out = file.out();
    out << comment_lines(profile.provenance) << sim::kProfileKernelColumns << "\n";
    for (const auto& k : profile.kernels)
      out << fmt::format("{},{},{},{},{},{},{:.4f}\n", k.model, k.batch, k.sms, kernels::precision_name(k.precision),
                         k.index, k.kernel, k.time_us);
    file.commit();
  }
  nlohmann::json side = profile.provenance;
  side["files"] = {{"models", csv.filename().string()}, {"kernels", profile_kernels_file(csv).filename().string()}};
  side["points"] = profile.models.size();
  write_file_atomically(profile_sidecar(csv), side.dump(2) + "\n");
}

Profile read_profile(const fs::path& csv) {
  Profile p;
  for (const auto& point : sim::read_profile_csv(csv)) p.models.push_back({point, point.latency_ms, point.latency_ms, 1});
  const fs::path side = profile_sidecar(csv);
  if (fs::exists(side)) {
    std::ifstream in(side);
    try {
      p.provenance = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
      throw std::invalid_argument(fmt::format("profile sidecar {}: not JSON: {}", side.string(), e.what()));
    }
  }
  return p;
}

std::string provenance_date() {
  std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  if (const char* epoch = std::getenv("SOURCE_DATE_EPOCH")) t = static_cast<std::time_t>(std::atoll(epoch));
  std::tm utc{};
  gmtime_r(&t, &utc);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buf;
}

Profile simulated_profile(const models::Graph& graph, const std::string& model, const SimProfileOptions& o,
                          const sim::DeviceSpec& device, const sim::CostModel& cost, const std::string& commit,
                          const ProgressFn& progress) {
  Profile p;
  p.provenance = {{"backend", "simulated"},
                  {"simulated", true},
                  {"device", device.name},
                  {"device_name", device.full_name},
                  {"device_file", device.file},
                  {"commit", commit},
                  {"precision", kernels::precision_name(o.precision)},
                  {"mode", sim::sim_mode_name(o.mode)},
                  {"dispatch", dispatch_mode_name(o.dispatch)},
                  {"cost_model", cost.name()},
                  {"repeats", 1},
                  {"date", provenance_date()}};
  const std::size_t total = o.batches.size() * o.sms.size();
  std::size_t done = 0;
  for (int64_t batch : o.batches) {
    models::Plan plan = models::lower(graph, batch, o.precision);
    plan.model = model;
    auto sp = std::make_shared<const sim::SimPlan>(sim::prepare_plan(plan, device, cost));
    for (int sms : o.sms) {
      const sim::BatchSimulation s = sim::simulate_plan(sp, device, sms, o.mode, o.dispatch);
      const double ms = s.latency_s * 1e3;
      p.models.push_back({{model, batch, sms, o.precision, ms}, ms, ms, 1});
      // Per plan node: its launches from the first start to the last end.
      std::map<int, std::pair<double, double>> span;
      for (const auto& k : s.timing.kernels) {
        const int node = sp->kernels[static_cast<std::size_t>(k.kernel)].plan_index;
        auto [it, fresh] = span.try_emplace(node, k.start_s, k.end_s);
        if (!fresh) it->second = {std::min(it->second.first, k.start_s), std::max(it->second.second, k.end_s)};
      }
      for (const auto& [node, se] : span)
        p.kernels.push_back({model, batch, sms, o.precision, node,
                             plan.kernels[static_cast<std::size_t>(node)].launches.at(0).kernel,
                             (se.second - se.first) * 1e6});
      if (progress) progress(++done, total);
    }
  }
  return p;
}

std::vector<std::pair<int, double>> profiled_curve(const std::vector<sim::ProfilePoint>& points,
                                                   const std::string& model, int64_t batch,
                                                   kernels::Precision precision) {
  std::map<int, double> by_sms;
  for (const auto& pt : points)
    if (pt.model == model && pt.batch == batch && pt.precision == precision) by_sms[pt.sms] = pt.latency_ms * 1e-3;
  return {by_sms.begin(), by_sms.end()};
}

}  // namespace dstack::analysis
