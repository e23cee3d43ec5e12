#include "app/cli_common.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <sstream>
#include <stdexcept>

#include "app/model_source.h"
#include "models/zoo.h"
#include "runtime/core/build_info.h"

namespace dstack::app {

std::string commit_string() {
  const auto& b = build_info();
  return b.commit + (b.dirty ? "+dirty" : "");
}

std::vector<int64_t> parse_int_list(const std::string& text, const std::string& what) {
  std::vector<int64_t> v;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    try {
      std::size_t used = 0;
      const long long x = std::stoll(item, &used);
      if (used != item.size() || x < 1) throw std::invalid_argument(item);
      v.push_back(x);
    } catch (const std::exception&) {
      throw std::invalid_argument(fmt::format("{} '{}': expected positive integers separated by commas, e.g. 1,8,32",
                                              what, text));
    }
  }
  if (v.empty()) throw std::invalid_argument(fmt::format("{} is empty", what));
  return v;
}

std::vector<std::string> parse_model_list(const std::string& text) {
  if (text == "all") {
    std::vector<std::string> all;
    for (const auto& e : models::zoo()) all.push_back(e.name);
    return all;
  }
  std::vector<std::string> names;
  std::stringstream ss(text);
  for (std::string m; std::getline(ss, m, ',');)
    if (!m.empty()) names.push_back(m);
  if (names.empty()) throw std::invalid_argument("no model given: name a zoo model, several with commas, or 'all'");
  return names;
}

const models::Graph& shape_graph(const std::string& spec) {
  static std::map<std::string, std::unique_ptr<models::Model>> cache;
  auto& m = cache[spec];
  if (!m) m = std::make_unique<models::Model>(load_model(spec, /*seed=*/1, /*weights=*/false));
  return m->graph;
}

std::shared_ptr<const sim::CostModel> make_cost_model(const std::string& kernel_times) {
  if (kernel_times.empty()) return std::make_shared<sim::RooflineCostModel>();
  return std::make_shared<sim::CalibratedCostModel>(sim::read_kernel_times_csv(kernel_times));
}

Progress::Progress(std::string label) : label_(std::move(label)), enabled_(isatty(STDERR_FILENO) == 1) {}

Progress::~Progress() {
  if (drawn_) std::fputs("\n", stderr);
}

void Progress::update(std::size_t done, std::size_t total) {
  if (!enabled_ || total == 0) return;
  const int width = 30;
  const int filled = static_cast<int>(width * done / total);
  std::fputs(fmt::format("\r{} [{}{}] {}/{}", label_, std::string(static_cast<std::size_t>(filled), '#'),
                         std::string(static_cast<std::size_t>(width - filled), ' '), done, total)
                 .c_str(),
             stderr);
  std::fflush(stderr);
  drawn_ = true;
}

}  // namespace dstack::app
