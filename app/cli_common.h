#pragma once
// Argument helpers the subcommands share: lists of numbers and models, the commit string for
// provenance, shape-only model graphs loaded once, and a progress bar for long sweeps.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "models/graph.h"
#include "runtime/sim/cost_model.h"

namespace dstack::app {

// "abc1234" or "abc1234+dirty": the build's commit, recorded in every output.
std::string commit_string();

// "1,8,32" -> {1, 8, 32}. Throws std::invalid_argument naming `what` for anything but positive integers.
std::vector<int64_t> parse_int_list(const std::string& text, const std::string& what);

// "resnet50,bert_base" -> the names; "all" -> every zoo model.
std::vector<std::string> parse_model_list(const std::string& text);

// A zoo model or ONNX file as a shape-only graph (no weights), loaded once per process.
const models::Graph& shape_graph(const std::string& spec);

// The roofline, or measured kernel times when `kernel_times` names a CSV (calibration).
std::shared_ptr<const sim::CostModel> make_cost_model(const std::string& kernel_times);

// "points 12/112" redrawn in place on stderr when stderr is a terminal; silent otherwise (logs and
// CI stay clean).
class Progress {
 public:
  explicit Progress(std::string label);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  void update(std::size_t done, std::size_t total);

 private:
  std::string label_;
  bool enabled_ = false;
  bool drawn_ = false;
};

}  // namespace dstack::app
