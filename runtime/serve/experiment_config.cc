#include "runtime/serve/experiment_config.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <string_view>

#include "runtime/serve/azure_trace.h"

namespace dstack::serve {

const char* priority_name(Priority p) { return p == Priority::High ? "high" : "normal"; }
const char* serve_backend_name(ServeBackend b) { return b == ServeBackend::Gpu ? "gpu" : "sim"; }

namespace {

// The offset of the first byte that does not belong to a well-formed UTF-8 sequence, or npos.
std::size_t first_invalid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > s.size() || (n == 2 && c < 0xC2)) return i;
    uint32_t cp = n == 1 ? c : c & (0x7F >> n);
    for (std::size_t k = 1; k < n; ++k) {
      const auto d = static_cast<unsigned char>(s[i + k]);
      if ((d >> 6) != 0x2) return i;
      cp = (cp << 6) | (d & 0x3F);
    }
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8.
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF))
      return i;
    i += n;
  }
  return std::string_view::npos;
}

// YAML's spellings of NaN and infinity (.nan, .inf, -.Inf, ...) and the C ones.
bool is_nan_or_inf(std::string_view s) {
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) s.remove_prefix(1);
  if (!s.empty() && s[0] == '.') s.remove_prefix(1);
  std::string lower(s);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower == "nan" || lower == "inf" || lower == "infinity";
}

using nlohmann::json;
using Keys = std::vector<std::string>;

const Keys kTopKeys = {"name", "device", "backend", "precision", "duration_s", "warmup_s", "seed", "policies",
                       "models", "policy_options", "gpu"};
const Keys kGpuKeys = {"input_copy", "max_batch"};
const Keys kModelKeys = {"name", "model", "slo_ms", "priority", "max_queue", "workload"};
const Keys kStepKeys = {"at_s", "rate_rps"};
const Keys kRampKeys = {"from_s", "to_s", "rate_rps"};

// The workload keys each arrival kind takes.
const Keys& workload_keys(ArrivalKind kind) {
  static const Keys poisson = {"arrival", "rate_rps", "changes"};
  static const Keys gamma = {"arrival", "rate_rps", "cv", "changes"};
  static const Keys trace = {"arrival", "file", "rate_scale"};
  static const Keys azure = {"arrival", "file", "function", "function_row", "rate_scale", "cv_scale",
                             "start_minute", "minutes"};
  switch (kind) {
    case ArrivalKind::Gamma: return gamma;
    case ArrivalKind::Trace: return trace;
    case ArrivalKind::Azure: return azure;
    default: return poisson;
  }
}

bool contains(const Keys& keys, const std::string& key) { return std::find(keys.begin(), keys.end(), key) != keys.end(); }

// Reads one file's nodes, turning every problem into "file:line: key: what".
class ConfigReader {
 public:
  ConfigReader(std::filesystem::path file, const ConfigChoices& choices)
      : file_(std::move(file)), dir_(file_.parent_path()), choices_(choices) {}

  [[noreturn]] void fail(const YAML::Node& at, const std::string& key, const std::string& what) const {
    throw ConfigError(fmt::format("{}:{}: {}: {}", file_.string(), at.Mark().line + 1, key, what));
  }

  // A message that names its key itself.
  [[noreturn]] void fail_plain(const YAML::Node& at, const std::string& what) const {
    throw ConfigError(fmt::format("{}:{}: {}", file_.string(), at.Mark().line + 1, what));
  }

  // `node` must be a map whose keys are all in `allowed` (each once).
  void check_keys(const YAML::Node& node, const std::string& path, const Keys& allowed,
                  const std::string& kind_hint = "") const {
    if (!node.IsMap()) fail(node, path, fmt::format("expected a map with keys {}", fmt::join(allowed, ", ")));
    std::set<std::string> seen;
    for (const auto& kv : node) {
      const std::string key = kv.first.Scalar();
      const std::string where = path.empty() ? key : path + "." + key;
      if (!contains(allowed, key))
        fail(kv.first, where, fmt::format("unknown key{}; valid keys: {}", kind_hint, fmt::join(allowed, ", ")));
      if (!seen.insert(key).second) fail(kv.first, where, "given twice");
    }
  }

  YAML::Node required(const YAML::Node& map, const std::string& path, const std::string& key,
                      const std::string& what) const {
    const YAML::Node v = map[key];
    if (!v) fail(map, join(path, key), "missing; it is required (" + what + ")");
    return v;
  }

  std::string string_at(const YAML::Node& v, const std::string& key) const {
    if (!v.IsScalar()) fail(v, key, "expected a string");
    return v.Scalar();
  }

  double number_at(const YAML::Node& v, const std::string& key) const {
    const std::string text = v.IsScalar() ? v.Scalar() : "";
    double x = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), x);
    if (ec == std::errc::result_out_of_range || is_nan_or_inf(text) ||
        (ec == std::errc() && end == text.data() + text.size() && !std::isfinite(x)))
      fail(v, key, fmt::format("must be a finite number, not '{}'", text));
    if (text.empty() || ec != std::errc() || end != text.data() + text.size())
      fail(v, key, fmt::format("expected a number, not {}", describe(v)));
    return x;
  }

  double positive_at(const YAML::Node& v, const std::string& key) const {
    const double x = number_at(v, key);
    if (!(x > 0)) fail(v, key, fmt::format("must be positive, not {}", v.Scalar()));
    return x;
  }

  double cv_at(const YAML::Node& v, const std::string& key) const {
    const double x = positive_at(v, key);
    if (x > kMaxCv)
      fail(v, key, fmt::format("must be at most {} (Gamma gaps of shape 1/cv^2 degenerate above it), not {}", kMaxCv,
                               v.Scalar()));
    return x;
  }

  double non_negative_at(const YAML::Node& v, const std::string& key) const {
    const double x = number_at(v, key);
    if (x < 0) fail(v, key, fmt::format("must be >= 0, not {}", v.Scalar()));
    return x;
  }

  uint64_t integer_at(const YAML::Node& v, const std::string& key, uint64_t min, uint64_t max) const {
    const std::string text = v.IsScalar() ? v.Scalar() : "";
    uint64_t x = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), x);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size())
      fail(v, key, fmt::format("expected a whole number, not {}", describe(v)));
    if (x < min || x > max) fail(v, key, fmt::format("must be in {}..{}, not {}", min, max, x));
    return x;
  }

  bool boolean_at(const YAML::Node& v, const std::string& key) const {
    const std::string s = v.IsScalar() ? v.Scalar() : "";
    if (s == "true") return true;
    if (s == "false") return false;
    fail(v, key, fmt::format("expected true or false, not {}", describe(v)));
  }

  std::string choice_at(const YAML::Node& v, const std::string& key, const Keys& choices,
                        const std::string& alternative = "") const {
    const std::string s = string_at(v, key);
    if (!contains(choices, s))
      fail(v, key, fmt::format("unknown '{}'; choose {}{}", s, fmt::join(choices, ", "), alternative));
    return s;
  }

  std::vector<std::string> unique_choices_at(const YAML::Node& v, const std::string& key, const Keys& choices) const {
    if (!v.IsSequence() || v.size() == 0)
      fail(v, key, fmt::format("expected a non-empty list like [{}]", fmt::join(choices, ", ")));
    std::vector<std::string> out;
    for (std::size_t i = 0; i < v.size(); ++i) {
      const std::string item = choice_at(v[i], fmt::format("{}[{}]", key, i), choices);
      if (contains(out, item)) fail(v[i], fmt::format("{}[{}]", key, i), fmt::format("'{}' is listed twice", item));
      out.push_back(item);
    }
    return out;
  }

  // A path in the config, resolved against the config's folder; it must exist.
  std::filesystem::path existing_path_at(const YAML::Node& v, const std::string& key) const {
    const std::filesystem::path given = string_at(v, key);
    const std::filesystem::path resolved = (given.is_absolute() ? given : dir_ / given).lexically_normal();
    if (!std::filesystem::is_regular_file(resolved))
      fail(v, key, fmt::format("no file '{}' (looked at {}; relative paths start at the config's folder)",
                               given.string(), resolved.string()));
    return resolved;
  }

  const ConfigChoices& choices() const { return choices_; }

  static std::string join(const std::string& path, const std::string& key) { return path.empty() ? key : path + "." + key; }

 private:
  static std::string describe(const YAML::Node& v) {
    if (v.IsScalar()) return "'" + v.Scalar() + "'";
    if (v.IsSequence()) return "a list";
    if (v.IsMap()) return "a map";
    return "nothing";
  }

  std::filesystem::path file_;
  std::filesystem::path dir_;
  const ConfigChoices& choices_;
};

json scalar_to_json(const YAML::Node& v) {
  const std::string& s = v.Scalar();
  if (v.Tag() == "!") return s;  // quoted: a string whatever it spells
  if (s == "true" || s == "True") return true;
  if (s == "false" || s == "False") return false;
  if (s == "null" || s == "~" || s.empty()) return nullptr;
  int64_t i = 0;
  if (auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), i); ec == std::errc() && end == s.data() + s.size())
    return i;
  double d = 0;
  if (auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
      ec == std::errc() && end == s.data() + s.size() && std::isfinite(d))
    return d;
  return s;
}

json yaml_to_json(const YAML::Node& v) {
  if (v.IsScalar()) return scalar_to_json(v);
  if (v.IsSequence()) {
    json a = json::array();
    for (const auto& item : v) a.push_back(yaml_to_json(item));
    return a;
  }
  if (v.IsMap()) {
    json o = json::object();
    for (const auto& kv : v) o[kv.first.Scalar()] = yaml_to_json(kv.second);
    return o;
  }
  return nullptr;
}

std::vector<RateChange> read_changes(const ConfigReader& r, const YAML::Node& v, const std::string& path) {
  const std::string shapes = "{at_s, rate_rps} for a step or {from_s, to_s, rate_rps} for a ramp";
  if (!v.IsSequence()) r.fail(v, path, "expected a list of changes, each " + shapes);
  std::vector<RateChange> changes;
  double previous_end = 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const YAML::Node c = v[i];
    const std::string at = fmt::format("{}[{}]", path, i);
    RateChange change;
    if (c.IsMap() && c["at_s"]) {
      r.check_keys(c, at, kStepKeys, " for a step (a ramp has from_s, to_s, rate_rps)");
      change.from_s = change.to_s = r.non_negative_at(c["at_s"], at + ".at_s");
    } else if (c.IsMap() && (c["from_s"] || c["to_s"])) {
      r.check_keys(c, at, kRampKeys, " for a ramp (a step has at_s, rate_rps)");
      change.from_s = r.non_negative_at(r.required(c, at, "from_s", "when the ramp starts"), at + ".from_s");
      change.to_s = r.number_at(r.required(c, at, "to_s", "when the ramp ends"), at + ".to_s");
      if (!(change.to_s > change.from_s))
        r.fail(c["to_s"], at + ".to_s", fmt::format("the ramp must end after it starts at {} s", change.from_s));
    } else {
      r.fail(c, at, "expected " + shapes);
    }
    change.rate_rps = r.positive_at(r.required(c, at, "rate_rps", "the rate the change goes to"), at + ".rate_rps");
    if (change.from_s < previous_end)
      r.fail(c, at, fmt::format("starts at {} s, before the change before it ends ({} s); list changes in time "
                                "order without overlaps", change.from_s, previous_end));
    previous_end = change.to_s;
    changes.push_back(change);
  }
  return changes;
}

ArrivalSpec read_workload(const ConfigReader& r, const YAML::Node& w, const std::string& path) {
  if (!w.IsMap()) r.fail(w, path, "expected a map with arrival and its parameters");
  const YAML::Node arrival = r.required(w, path, "arrival", fmt::format("{}", fmt::join(arrival_kind_names(), " | ")));
  ArrivalSpec spec;
  spec.kind = parse_arrival_kind(r.choice_at(arrival, path + ".arrival", arrival_kind_names()));
  const char* kind = arrival_kind_name(spec.kind);
  r.check_keys(w, path, workload_keys(spec.kind), fmt::format(" for {} arrivals", kind));
  auto key = [&](const char* k) { return path + "." + k; };

  switch (spec.kind) {
    case ArrivalKind::Gamma:
      spec.cv = r.cv_at(r.required(w, path, "cv", "the burstiness; 1 is Poisson"), key("cv"));
      [[fallthrough]];
    case ArrivalKind::Poisson:
    case ArrivalKind::Constant:
      spec.rate_rps = r.positive_at(r.required(w, path, "rate_rps", "requests per second"), key("rate_rps"));
      if (w["changes"]) spec.changes = read_changes(r, w["changes"], key("changes"));
      break;
    case ArrivalKind::Azure:
      if (w["cv_scale"]) spec.cv_scale = r.cv_at(w["cv_scale"], key("cv_scale"));
      if (w["start_minute"])
        spec.azure.start_minute =
            static_cast<int>(r.integer_at(w["start_minute"], key("start_minute"), 0, kAzureMinutesPerDay - 1));
      if (w["minutes"])
        spec.azure.minutes = static_cast<int>(r.integer_at(w["minutes"], key("minutes"), 1,
                                                           static_cast<uint64_t>(kAzureMinutesPerDay - spec.azure.start_minute)));
      if (w["function"] && w["function_row"])
        r.fail(w["function_row"], key("function_row"), "give function or function_row, not both");
      if (w["function"]) spec.azure.function = r.string_at(w["function"], key("function"));
      else if (w["function_row"])
        spec.azure.row = r.integer_at(w["function_row"], key("function_row"), 0, std::numeric_limits<uint32_t>::max());
      else
        r.fail(w, path, "azure arrivals need function (a HashFunction of the file) or function_row (0-based)");
      [[fallthrough]];
    case ArrivalKind::Trace:
      spec.file = r.existing_path_at(r.required(w, path, "file", "the trace, relative to the config file"), key("file"));
      if (w["rate_scale"]) spec.rate_scale = r.positive_at(w["rate_scale"], key("rate_scale"));
      break;
  }
  if (spec.kind == ArrivalKind::Azure) {
    // Reading the chosen row now reports a missing function or a malformed file before any run starts.
    const YAML::Node which = w["function"] ? w["function"] : w["function_row"];
    try {
      read_azure_function(spec.file, spec.azure);
    } catch (const std::invalid_argument& e) {
      r.fail(which, key(w["function"] ? "function" : "function_row"), e.what());
    }
  }
  return spec;
}

ModelConfig read_model(const ConfigReader& r, const YAML::Node& m, const std::string& path) {
  r.check_keys(m, path, kModelKeys);
  ModelConfig mc;
  const YAML::Node model = r.required(m, path, "model", "a zoo name or a path ending in .onnx");
  const std::string spec = r.string_at(model, path + ".model");
  if (spec.ends_with(".onnx")) {
    mc.model = r.existing_path_at(model, path + ".model").string();
  } else {
    mc.model = r.choice_at(model, path + ".model", r.choices().models, ", or a path ending in .onnx");
  }
  mc.name = m["name"] ? r.string_at(m["name"], path + ".name") : std::filesystem::path(spec).stem().string();
  if (mc.name.empty()) r.fail(m["name"], path + ".name", "must not be empty");
  mc.slo_ms = r.positive_at(r.required(m, path, "slo_ms", "the latency objective in ms"), path + ".slo_ms");
  if (m["priority"])
    mc.priority = r.choice_at(m["priority"], path + ".priority", {"high", "normal"}) == "high" ? Priority::High
                                                                                           : Priority::Normal;
  if (m["max_queue"])
    mc.max_queue = r.integer_at(m["max_queue"], path + ".max_queue", 1, std::numeric_limits<uint32_t>::max());
  mc.workload = read_workload(r, r.required(m, path, "workload", "how requests arrive"), path + ".workload");
  return mc;
}

ExperimentConfig read_config(const ConfigReader& r, const YAML::Node& root, const std::filesystem::path& file) {
  if (!root.IsMap())
    throw ConfigError(fmt::format("{}: expected a map with keys {} (see runtime/serve/README.md)", file.string(),
                                  fmt::join(kTopKeys, ", ")));
  r.check_keys(root, "", kTopKeys);
  ExperimentConfig c;
  c.file = file;
  c.name = root["name"] ? r.string_at(root["name"], "name") : file.stem().string();
  const YAML::Node device = r.required(root, "", "device", "a device description name");
  // A name of the shipped descriptions, or a file of one's own in their format (checked when loaded).
  c.device = r.string_at(device, "device").ends_with(".json")
                 ? r.existing_path_at(device, "device").string()
                 : r.choice_at(device, "device", r.choices().devices, ", or a description file NAME.json");
  if (root["backend"])
    c.backend = r.choice_at(root["backend"], "backend", {"sim", "gpu"}) == "gpu" ? ServeBackend::Gpu : ServeBackend::Sim;
  if (root["precision"]) {
    const std::string p = r.choice_at(root["precision"], "precision", {"fp32", "fp16", "bf16"});
    c.precision = kernels::parse_precision(p);
  }
  c.duration_s = r.positive_at(r.required(root, "", "duration_s", "seconds of serving"), "duration_s");
  if (root["warmup_s"]) {
    c.warmup_s = r.non_negative_at(root["warmup_s"], "warmup_s");
    if (c.warmup_s >= c.duration_s)
      r.fail(root["warmup_s"], "warmup_s", fmt::format("{} s leaves nothing to measure of duration_s {} s", c.warmup_s,
                                                      c.duration_s));
  }
  if (root["seed"]) c.seed = r.integer_at(root["seed"], "seed", 0, std::numeric_limits<uint64_t>::max());
  if (const YAML::Node gpu = root["gpu"]) {
    r.check_keys(gpu, "gpu", kGpuKeys);
    if (gpu["input_copy"]) c.gpu.input_copy = r.boolean_at(gpu["input_copy"], "gpu.input_copy");
    if (gpu["max_batch"]) c.gpu.max_batch = static_cast<int64_t>(r.integer_at(gpu["max_batch"], "gpu.max_batch", 1, 4096));
  }
  c.policies = r.unique_choices_at(r.required(root, "", "policies", "a list of policy names"), "policies",
                                   r.choices().policies);

  const YAML::Node models = r.required(root, "", "models", "a list of models with their workloads");
  if (!models.IsSequence() || models.size() == 0)
    r.fail(models, "models", "expected a non-empty list of models (name, model, slo_ms, workload)");
  for (std::size_t i = 0; i < models.size(); ++i) {
    const std::string path = fmt::format("models[{}]", i);
    ModelConfig mc = read_model(r, models[i], path);
    for (std::size_t j = 0; j < c.models.size(); ++j)
      if (c.models[j].name == mc.name)
        r.fail(models[i]["name"] ? models[i]["name"] : models[i], path + ".name",
               fmt::format("'{}' is already the name of models[{}]; names must be unique", mc.name, j));
    c.models.push_back(std::move(mc));
  }

  if (const YAML::Node options = root["policy_options"]) {
    if (!options.IsMap()) r.fail(options, "policy_options", "expected a map from policy name to its options");
    for (const auto& kv : options) {
      r.choice_at(kv.first, "policy_options." + kv.first.Scalar(), r.choices().policies);
      c.policy_options[kv.first.Scalar()] = yaml_to_json(kv.second);
      if (r.choices().check_policy_options) {
        try {
          r.choices().check_policy_options(kv.first.Scalar(), c.policy_options[kv.first.Scalar()]);
        } catch (const std::invalid_argument& e) {
          r.fail_plain(kv.second, e.what());
        }
      }
    }
  }
  return c;
}

}  // namespace

ExperimentConfig parse_experiment_config(const std::string& yaml, const std::filesystem::path& file,
                                         const ConfigChoices& choices) {
  // YAML is UTF-8 here, and every name in the config reaches JSON outputs, which must be UTF-8.
  if (const std::size_t bad = first_invalid_utf8(yaml); bad != std::string::npos)
    throw ConfigError(fmt::format("{}:{}: not UTF-8 text (byte {} of the file); save it as UTF-8", file.string(),
                                  1 + std::count(yaml.begin(), yaml.begin() + static_cast<std::ptrdiff_t>(bad), '\n'),
                                  bad));
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::ParserException& e) {
    throw ConfigError(fmt::format("{}:{}: not valid YAML: {}", file.string(), e.mark.line + 1, e.msg));
  }
  if (root.IsNull())
    throw ConfigError(file.string() + ": empty; an experiment needs at least device, duration_s, policies and models");
  return read_config(ConfigReader(file, choices), root, file);
}

ExperimentConfig load_experiment_config(const std::filesystem::path& file, const ConfigChoices& choices) {
  std::ifstream in(file);
  if (!in) throw ConfigError("experiment config " + file.string() + ": cannot be read (missing?)");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_experiment_config(text.str(), file, choices);
}

void scale_load(ExperimentConfig& config, double factor) {
  if (!(factor > 0) || !std::isfinite(factor))
    throw std::invalid_argument(fmt::format("load factor {} must be positive and finite", factor));
  for (ModelConfig& m : config.models) {
    ArrivalSpec& w = m.workload;
    w.rate_rps *= factor;
    for (RateChange& c : w.changes) c.rate_rps *= factor;
    w.rate_scale *= factor;
  }
  config.load_factor *= factor;
}

json to_json(const ExperimentConfig& c) {
  json models = json::array();
  for (const auto& m : c.models) {
    const ArrivalSpec& w = m.workload;
    json workload = {{"arrival", arrival_kind_name(w.kind)}};
    switch (w.kind) {
      case ArrivalKind::Gamma:
        workload["cv"] = w.cv;
        [[fallthrough]];
      case ArrivalKind::Poisson:
      case ArrivalKind::Constant: {
        workload["rate_rps"] = w.rate_rps;
        json changes = json::array();
        for (const auto& ch : w.changes)
          changes.push_back(ch.from_s == ch.to_s ? json{{"at_s", ch.from_s}, {"rate_rps", ch.rate_rps}}
                                                 : json{{"from_s", ch.from_s}, {"to_s", ch.to_s}, {"rate_rps", ch.rate_rps}});
        workload["changes"] = changes;
        break;
      }
      case ArrivalKind::Azure:
        if (w.azure.function.empty()) workload["function_row"] = w.azure.row;
        else workload["function"] = w.azure.function;
        workload["cv_scale"] = w.cv_scale;
        workload["start_minute"] = w.azure.start_minute;
        workload["minutes"] = w.azure.minutes.value_or(kAzureMinutesPerDay - w.azure.start_minute);
        [[fallthrough]];
      case ArrivalKind::Trace:
        workload["file"] = w.file.string();
        workload["rate_scale"] = w.rate_scale;
        break;
    }
    models.push_back({{"name", m.name},
                      {"model", m.model},
                      {"slo_ms", m.slo_ms},
                      {"priority", priority_name(m.priority)},
                      {"max_queue", m.max_queue},
                      {"workload", workload}});
  }
  return {{"file", c.file.string()},
          {"name", c.name},
          {"device", c.device},
          {"backend", serve_backend_name(c.backend)},
          {"precision", kernels::precision_name(c.precision)},
          {"duration_s", c.duration_s},
          {"warmup_s", c.warmup_s},
          {"seed", c.seed},
          {"load_factor", c.load_factor},
          {"policies", c.policies},
          {"gpu", {{"input_copy", c.gpu.input_copy}, {"max_batch", c.gpu.max_batch}}},
          {"models", models},
          {"policy_options", c.policy_options}};
}

}  // namespace dstack::serve
