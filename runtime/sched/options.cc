#include "runtime/sched/options.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace dstack::sched {

OptionReader::OptionReader(const nlohmann::json& options, std::string policy)
    : options_(options.is_null() ? nlohmann::json::object() : options), policy_(std::move(policy)) {
  if (!options_.is_object())
    throw std::invalid_argument(fmt::format("policy_options.{}: expected a map of option: value, got {}", policy_,
                                            options_.dump()));
}

std::string OptionReader::where(const std::string& key) const { return fmt::format("policy_options.{}.{}", policy_, key); }

const nlohmann::json* OptionReader::find(const std::string& key) {
  if (std::find(known_.begin(), known_.end(), key) == known_.end()) known_.push_back(key);
  const auto it = options_.find(key);
  return it == options_.end() ? nullptr : &*it;
}

int64_t OptionReader::integer(const std::string& key, int64_t fallback, int64_t min, int64_t max) {
  const nlohmann::json* v = find(key);
  if (!v) return fallback;
  int64_t x = 0;
  if (v->is_number_integer() || v->is_number_unsigned()) {
    if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) x = INT64_MAX;
    else x = v->get<int64_t>();
  } else if (v->is_number_float() && std::isfinite(v->get<double>()) && v->get<double>() == std::floor(v->get<double>()) &&
             std::abs(v->get<double>()) < 9e18) {
    x = static_cast<int64_t>(v->get<double>());
  } else {
    throw std::invalid_argument(fmt::format("{}: expected an integer from {} to {}, got {}", where(key), min, max, v->dump()));
  }
  if (x < min || x > max)
    throw std::invalid_argument(fmt::format("{}: {} is out of range; use an integer from {} to {}", where(key), x, min, max));
  return x;
}

double OptionReader::number(const std::string& key, double fallback, double min, double max) {
  const nlohmann::json* v = find(key);
  if (!v) return fallback;
  if (!v->is_number())
    throw std::invalid_argument(fmt::format("{}: expected a number from {} to {}, got {}", where(key), min, max, v->dump()));
  const double x = v->get<double>();
  if (!std::isfinite(x) || x < min || x > max)
    throw std::invalid_argument(fmt::format("{}: {} is out of range; use a number from {} to {}", where(key), x, min, max));
  return x;
}

double OptionReader::positive(const std::string& key, double fallback, double above) {
  const nlohmann::json* v = find(key);
  if (!v) return fallback;
  if (!v->is_number())
    throw std::invalid_argument(fmt::format("{}: expected a number above {}, got {}", where(key), above, v->dump()));
  const double x = v->get<double>();
  if (!std::isfinite(x) || !(x > above))
    throw std::invalid_argument(fmt::format("{}: {} is out of range; use a finite number above {}", where(key), x, above));
  return x;
}

bool OptionReader::flag(const std::string& key, bool fallback) {
  const nlohmann::json* v = find(key);
  if (!v) return fallback;
  if (!v->is_boolean())
    throw std::invalid_argument(fmt::format("{}: expected true or false, got {}", where(key), v->dump()));
  return v->get<bool>();
}

std::string OptionReader::choice(const std::string& key, const std::string& fallback, const std::vector<std::string>& choices) {
  const nlohmann::json* v = find(key);
  if (!v) return fallback;
  const std::string list = fmt::format("{}", fmt::join(choices, ", "));
  if (!v->is_string()) throw std::invalid_argument(fmt::format("{}: expected one of {}, got {}", where(key), list, v->dump()));
  const std::string s = v->get<std::string>();
  if (std::find(choices.begin(), choices.end(), s) == choices.end())
    throw std::invalid_argument(fmt::format("{}: unknown value '{}'; choose {}", where(key), s, list));
  return s;
}

void OptionReader::done() const {
  std::vector<std::string> unknown;
  for (const auto& [key, value] : options_.items())
    if (std::find(known_.begin(), known_.end(), key) == known_.end()) unknown.push_back(key);
  if (unknown.empty()) return;
  std::vector<std::string> valid = known_;
  std::sort(valid.begin(), valid.end());
  throw std::invalid_argument(fmt::format("policy_options.{}: unknown option{} {}; {} takes {}", policy_,
                                          unknown.size() > 1 ? "s" : "", fmt::format("'{}'", fmt::join(unknown, "', '")),
                                          policy_, valid.empty() ? "no options" : fmt::format("{}", fmt::join(valid, ", "))));
}

}  // namespace dstack::sched
