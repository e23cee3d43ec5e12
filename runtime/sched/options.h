#pragma once
// A policy's options (an experiment's `policy_options.<policy>`), read with their types and ranges
// checked and every key accounted for: a misspelled key, a wrong type or a value out of range is an
// error naming the key, what it expects and the valid keys, never a silent default or clamp.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace dstack::sched {

// Bounds on options that have no natural one, so an absurd value is refused rather than run: a
// batch (the zoo's plans and the oracle are prepared per batch) and a cycle or delay in ms.
constexpr int64_t kMaxBatchOption = 4096;
constexpr double kMaxCycleMs = 60000;

class OptionReader {
 public:
  // `policy` names the options in messages ("policy_options.<policy>.<key>"). Throws
  // std::invalid_argument when `options` is neither an object nor null.
  OptionReader(const nlohmann::json& options, std::string policy);

  // Each returns the key's value, or `fallback` when it is absent; throws std::invalid_argument for
  // a value of another type, out of [min, max], NaN or infinite.
  int64_t integer(const std::string& key, int64_t fallback, int64_t min, int64_t max);
  double number(const std::string& key, double fallback, double min, double max);
  // Like number() but the value must exceed `above`.
  double positive(const std::string& key, double fallback, double above = 0.0);
  bool flag(const std::string& key, bool fallback);
  std::string choice(const std::string& key, const std::string& fallback, const std::vector<std::string>& choices);

  // Throws std::invalid_argument naming every key no read asked for, with the valid keys.
  void done() const;

 private:
  const nlohmann::json* find(const std::string& key);
  std::string where(const std::string& key) const;

  nlohmann::json options_;
  std::string policy_;
  std::vector<std::string> known_;
};

}  // namespace dstack::sched
