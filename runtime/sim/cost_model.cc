#include "runtime/sim/cost_model.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <vector>

namespace dstack::sim {
namespace {

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> cells;
  std::string cell;
  for (char c : line) {
    if (c == ',') {
      cells.push_back(cell);
      cell.clear();
    } else if (c != '\r') {
      cell += c;
    }
  }
  cells.push_back(cell);
  for (auto& s : cells) {
    const auto b = s.find_first_not_of(" \t");
    const auto e = s.find_last_not_of(" \t");
    s = b == std::string::npos ? "" : s.substr(b, e - b + 1);
  }
  return cells;
}

// "128", "12x4x1" -> the product.
unsigned long long parse_count(const std::string& text, const std::string& where) {
  unsigned long long total = 1;
  std::size_t pos = 0;
  while (true) {
    const std::size_t x = text.find('x', pos);
    const std::string part = text.substr(pos, x == std::string::npos ? std::string::npos : x - pos);
    unsigned long long v = 0;
    const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
    if (part.empty() || ec != std::errc() || end != part.data() + part.size() || v == 0)
      throw std::invalid_argument(where + ": '" + text + "' is not a positive count (write 128 or 12x4x1)");
    if (total > (1ull << 40) / v)  // beyond any launch's threads or blocks
      throw std::invalid_argument(where + ": '" + text + "' is more than 2^40, no CUDA launch's size");
    total *= v;
    if (x == std::string::npos) return total;
    pos = x + 1;
  }
}

int parse_index(const std::string& text, const std::string& where) {
  int v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || v < 0)
    throw std::invalid_argument(where + ": '" + text + "' is not an index (0, 1, ...)");
  return v;
}

double parse_positive(const std::string& text, const std::string& where) {
  double v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || !(v > 0) || !std::isfinite(v))
    throw std::invalid_argument(where + ": '" + text + "' is not a positive finite number");
  return v;
}

}  // namespace

bool is_tensor_core_kernel(const std::string& kernel) { return kernel.find("_tc<") != std::string::npos; }

BlockWork RooflineCostModel::block_work(const LaunchInfo& l, const DeviceSpec& d) const {
  BlockWork w;
  const double blocks = static_cast<double>(std::max<int64_t>(l.blocks, 1));
  const auto& node = l.node();
  w.flops = static_cast<double>(node.flops) * l.share / blocks;
  w.bytes = static_cast<double>(node.bytes_read + node.bytes_written) * l.share / blocks;
  w.tensor_core = is_tensor_core_kernel(l.geometry().kernel);
  w.peak_flops_per_sm = w.tensor_core ? d.tensor_flops_per_sm() : d.fp32_flops_per_sm();
  w.latency_s = d.model.block_latency_us * 1e-6;
  return w;
}

double standalone_launch_time(const BlockWork& work, int64_t blocks, int warps, int blocks_per_sm, int sms,
                              const DeviceSpec& d) {
  if (blocks <= 0) return 0;
  const int64_t per_wave = static_cast<int64_t>(blocks_per_sm) * sms;
  auto phase = [&](int64_t n) {
    const int per_sm = static_cast<int>((n + sms - 1) / sms);
    const double t = block_rate(work, warps, static_cast<double>(per_sm) * warps, d.model.warps_to_saturate_sm,
                                d.sm_dram_bytes_per_s()).time_s;
    // Every SM of the phase draws DRAM at once; the device's bandwidth caps them together.
    return std::max(t, work.bytes * static_cast<double>(n) / d.dram_bytes_per_s());
  };
  const int64_t full = blocks / per_wave;
  const int64_t tail = blocks % per_wave;
  return static_cast<double>(full) * (full > 0 ? phase(per_wave) : 0.0) + (tail > 0 ? phase(tail) : 0.0);
}

MeasuredKernelTimes read_kernel_times_csv(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw std::invalid_argument("kernel times " + file.string() + ": cannot be read");
  MeasuredKernelTimes t;
  t.source = file.string();
  std::string line;
  std::vector<std::string> header;
  // A profile's kernel rows, per (model, batch): the most SMs seen and that partition's node times.
  struct Widest {
    unsigned long long sms = 0;
    std::map<int, double> node_s;
  };
  std::map<std::pair<std::string, int64_t>, Widest> profile;
  std::string precision;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty() || line[0] == '#') continue;
    const auto cells = split_csv_line(line);
    const std::string where = fmt::format("{}:{}", file.string(), line_no);
    if (header.empty()) {
      header = cells;
      const bool geometry = header == std::vector<std::string>{"kernel", "grid", "block", "time_us"};
      const bool plan = header == std::vector<std::string>{"model", "batch", "index", "launch", "time_us"};
      const bool profiled = header == split_csv_line(kProfileKernelColumns);
      if (!geometry && !plan && !profiled)
        throw std::invalid_argument(where + ": the header must be 'kernel,grid,block,time_us', "
                                            "'model,batch,index,launch,time_us' or a profile's '" +
                                    kProfileKernelColumns + "'");
      continue;
    }
    if (cells.size() != header.size())
      throw std::invalid_argument(fmt::format("{}: {} cells, the header has {}", where, cells.size(), header.size()));
    const double seconds = parse_positive(cells.back(), where) * 1e-6;
    if (header.size() == 4) {
      t.by_geometry[{cells[0], parse_count(cells[1], where), parse_count(cells[2], where)}] = seconds;
    } else if (header.size() == 5) {
      t.by_plan[{cells[0], static_cast<int64_t>(parse_count(cells[1], where)), parse_index(cells[2], where),
                 parse_index(cells[3], where)}] = seconds;
    } else {
      if (precision.empty()) precision = cells[3];
      if (cells[3] != precision)
        throw std::invalid_argument(fmt::format("{}: precision {} beside {}: calibrate from one precision's rows",
                                                where, cells[3], precision));
      Widest& w = profile[{cells[0], static_cast<int64_t>(parse_count(cells[1], where))}];
      const unsigned long long sms = parse_count(cells[2], where);
      if (sms > w.sms) w = Widest{sms, {}};
      if (sms == w.sms) w.node_s[parse_index(cells[4], where)] = seconds;
    }
  }
  if (header.empty()) throw std::invalid_argument("kernel times " + file.string() + ": empty file");
  for (const auto& [key, w] : profile)
    for (const auto& [index, s] : w.node_s) t.by_node[{key.first, key.second, index, -1}] = s;
  return t;
}

CalibratedCostModel::CalibratedCostModel(MeasuredKernelTimes times) : times_(std::move(times)) {
  for (const auto& [key, seconds] : times_.by_node)
    node_batches_[{std::get<0>(key), std::get<2>(key)}][std::get<1>(key)] = seconds;
}

std::optional<double> CalibratedCostModel::node_time(const std::string& model, int64_t batch, int index) const {
  const auto it = node_batches_.find({model, index});
  if (it == node_batches_.end()) return std::nullopt;
  const std::map<int64_t, double>& by_batch = it->second;
  const auto above = by_batch.lower_bound(batch);
  if (above != by_batch.end() && above->first == batch) return above->second;
  if (above == by_batch.begin()) return above->second;  // below the smallest measured batch
  const auto below = std::prev(above);
  if (above == by_batch.end())  // above the largest: proportional to the batch
    return below->second * static_cast<double>(batch) / static_cast<double>(below->first);
  const double f = static_cast<double>(batch - below->first) / static_cast<double>(above->first - below->first);
  return below->second + f * (above->second - below->second);
}

std::string CalibratedCostModel::name() const {
  return fmt::format("calibrated from {} ({} kernels measured; roofline for the rest)",
                     times_.source.empty() ? "measured times" : times_.source, times_.size());
}

BlockWork CalibratedCostModel::block_work(const LaunchInfo& l, const DeviceSpec& d) const {
  BlockWork w = roofline_.block_work(l, d);
  const auto& g = l.geometry();
  std::optional<double> measured;
  if (auto it = times_.by_plan.find({l.plan->model, l.plan->batch, l.plan_index, l.launch_index});
      it != times_.by_plan.end())
    measured = it->second;
  else if (auto jt = times_.by_geometry.find({g.kernel, g.grid.count(), g.block.count()}); jt != times_.by_geometry.end())
    measured = jt->second;
  else if (auto node = node_time(l.plan->model, l.plan->batch, l.plan_index))
    measured = *node * l.share;
  if (!measured) return w;
  const double predicted = standalone_launch_time(w, l.blocks, l.warps, l.blocks_per_sm, d.sm_count, d);
  if (predicted <= 0) return w;
  // Every term of a block's time (and the DRAM cap) is linear in these three, so scaling them by
  // one factor makes the kernel alone on the whole GPU take exactly the measured time.
  const double f = *measured / predicted;
  w.flops *= f;
  w.bytes *= f;
  w.latency_s *= f;
  return w;
}

}  // namespace dstack::sim
