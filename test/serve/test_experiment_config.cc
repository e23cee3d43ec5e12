// Experiment configs: a full file and a minimal one read back with their defaults, the provenance
// JSON, and every mistake reported with the file, line, key and the valid choices.
#include <gtest/gtest.h>

#include <filesystem>
#include <limits>
#include <stdexcept>
#include <string>

#include "runtime/serve/experiment_config.h"

namespace dstack::serve {
namespace {

const std::filesystem::path kFixtures = DSTACK_SERVE_FIXTURES;

ConfigChoices choices() {
  ConfigChoices c;
  c.models = {"resnet50", "resnet18", "mobilenet_v2", "alexnet"};
  c.policies = {"dstack", "temporal", "triton"};
  c.devices = {"h100_sxm", "a100"};
  return c;
}

// A valid config; each error case edits one part of it. Line numbers: device 1, duration_s 2,
// policies 3, models 4, first model 5-8, second model 9-14.
const std::string kBase = R"(device: h100_sxm
duration_s: 30
policies: [dstack]
models:
  - name: a
    model: resnet50
    slo_ms: 50
    workload: {arrival: poisson, rate_rps: 10}
  - name: b
    model: resnet18
    slo_ms: 80
    workload:
      arrival: gamma
      rate_rps: 20
      cv: 2
)";

std::string with(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  if (at == std::string::npos) throw std::logic_error("test config has no '" + from + "'");
  return text.replace(at, from.size(), to);
}

// The error, with the file's path (which names the fixtures folder) shortened to "t.yaml".
std::string error_of(const std::string& yaml) {
  try {
    parse_experiment_config(yaml, kFixtures / "t.yaml", choices());
  } catch (const ConfigError& e) {
    std::string message = e.what();
    const std::string path = (kFixtures / "t.yaml").string();
    if (message.starts_with(path)) message = "t.yaml" + message.substr(path.size());
    return message;
  }
  return "(no error)";
}

TEST(ServeExperimentConfig, BaseIsValid) { EXPECT_EQ(error_of(kBase), "(no error)"); }

TEST(ServeExperimentConfig, ReadsEveryFeatureOfAFullFile) {
  const auto c = load_experiment_config(kFixtures / "mixed4.yaml", choices());
  EXPECT_EQ(c.name, "mixed4");
  EXPECT_EQ(c.device, "h100_sxm");
  EXPECT_EQ(c.backend, ServeBackend::Sim);
  EXPECT_EQ(c.precision, kernels::Precision::F16);
  EXPECT_EQ(c.duration_s, 30);
  EXPECT_EQ(c.warmup_s, 2);
  EXPECT_EQ(c.seed, 7u);
  EXPECT_EQ(c.policies, (std::vector<std::string>{"dstack", "temporal", "triton"}));
  ASSERT_EQ(c.models.size(), 4u);

  const auto& r50 = c.models[0];
  EXPECT_EQ(r50.name, "resnet50");
  EXPECT_EQ(r50.model, "resnet50");
  EXPECT_EQ(r50.slo_ms, 50);
  EXPECT_EQ(r50.priority, Priority::High);
  EXPECT_EQ(r50.max_queue, 1024u);
  EXPECT_EQ(r50.workload.kind, ArrivalKind::Poisson);
  EXPECT_EQ(r50.workload.rate_rps, 200);
  ASSERT_EQ(r50.workload.changes.size(), 2u);
  EXPECT_EQ(r50.workload.changes[0].from_s, 10);
  EXPECT_EQ(r50.workload.changes[0].to_s, 10);
  EXPECT_EQ(r50.workload.changes[0].rate_rps, 400);
  EXPECT_EQ(r50.workload.changes[1].from_s, 20);
  EXPECT_EQ(r50.workload.changes[1].to_s, 25);
  EXPECT_EQ(r50.workload.changes[1].rate_rps, 100);

  EXPECT_EQ(c.models[1].workload.kind, ArrivalKind::Gamma);
  EXPECT_EQ(c.models[1].workload.cv, 2);
  EXPECT_EQ(c.models[1].priority, Priority::Normal);
  EXPECT_EQ(c.models[1].max_queue, 4096u);

  const auto& replayed = c.models[2];
  EXPECT_EQ(replayed.model, (kFixtures.parent_path().parent_path() / "onnx/fixtures/tiny_cnn/model.onnx").lexically_normal().string());
  EXPECT_EQ(replayed.workload.file, (kFixtures / "traces/arrivals.csv").lexically_normal());
  EXPECT_EQ(replayed.workload.rate_scale, 2);
  EXPECT_EQ(generate_arrivals(replayed.workload, 1, 1), (std::vector<double>{0.05, 0.175, 0.6}));

  const auto& functions = c.models[3].workload;
  EXPECT_EQ(functions.kind, ArrivalKind::Azure);
  EXPECT_EQ(functions.file.filename(), "azure_functions_2019_synthetic.csv");
  EXPECT_TRUE(functions.azure.function.empty());
  EXPECT_EQ(functions.azure.row, 3u);
  EXPECT_EQ(functions.azure.start_minute, 600);
  EXPECT_EQ(functions.azure.minutes, 10);
  EXPECT_EQ(functions.rate_scale, 0.5);
  EXPECT_EQ(functions.cv_scale, 1.5);
  EXPECT_FALSE(generate_arrivals(functions, 30, 1).empty());

  // Free-form options keep YAML's types as JSON's; a quoted number stays a string.
  EXPECT_EQ(c.policy_options.dump(),
            R"({"triton":{"dynamic":true,"max_queue_delay_ms":2,"name":"2","preferred_batch":[4,8],"ratio":0.5}})");
}

TEST(ServeExperimentConfig, ScaleLoadMultipliesRatesChangesAndReplaySpeed) {
  ExperimentConfig c = parse_experiment_config(
      with(kBase, "rate_rps: 10}", "rate_rps: 10, changes: [{at_s: 5, rate_rps: 40}]}"), kFixtures / "t.yaml",
      choices());
  c.models[1].workload.rate_scale = 3;  // as a trace replay's would be
  scale_load(c, 2.5);
  EXPECT_DOUBLE_EQ(c.models[0].workload.rate_rps, 25);
  ASSERT_EQ(c.models[0].workload.changes.size(), 1u);
  EXPECT_DOUBLE_EQ(c.models[0].workload.changes[0].rate_rps, 100);
  EXPECT_DOUBLE_EQ(c.models[1].workload.rate_rps, 50);
  EXPECT_DOUBLE_EQ(c.models[1].workload.cv, 2) << "burstiness is not load";
  EXPECT_DOUBLE_EQ(c.models[1].workload.rate_scale, 7.5);
  EXPECT_DOUBLE_EQ(c.load_factor, 2.5);
  EXPECT_DOUBLE_EQ(to_json(c)["load_factor"].get<double>(), 2.5) << "the provenance copy names the factor";
  EXPECT_THROW(scale_load(c, 0), std::invalid_argument);
  EXPECT_THROW(scale_load(c, -1), std::invalid_argument);
  EXPECT_THROW(scale_load(c, std::numeric_limits<double>::infinity()), std::invalid_argument);
}

TEST(ServeExperimentConfig, MinimalFileTakesTheDefaults) {
  const auto c = load_experiment_config(kFixtures / "minimal.yaml", choices());
  EXPECT_EQ(c.name, "minimal");  // the file's stem
  EXPECT_EQ(c.backend, ServeBackend::Sim);
  EXPECT_EQ(c.precision, kernels::Precision::F32);
  EXPECT_EQ(c.warmup_s, 0);
  EXPECT_EQ(c.seed, 1u);
  EXPECT_EQ(c.models[0].name, "resnet18");  // the model's name when no label is given
  EXPECT_EQ(c.models[0].priority, Priority::Normal);
  EXPECT_EQ(c.models[0].max_queue, 4096u);
  EXPECT_EQ(c.models[0].workload.kind, ArrivalKind::Constant);
  EXPECT_TRUE(c.policy_options.empty());
}

TEST(ServeExperimentConfig, ToJsonIsTheWholeConfigResolved) {
  const auto j = to_json(load_experiment_config(kFixtures / "mixed4.yaml", choices()));
  EXPECT_EQ(j["name"], "mixed4");
  EXPECT_EQ(j["precision"], "fp16");
  EXPECT_EQ(j["backend"], "sim");
  EXPECT_EQ(j["seed"], 7);
  EXPECT_EQ(j["policies"].size(), 3u);
  EXPECT_EQ(j["models"][0]["priority"], "high");
  EXPECT_EQ(j["models"][0]["workload"]["changes"].dump(),
            R"([{"at_s":10.0,"rate_rps":400.0},{"from_s":20.0,"rate_rps":100.0,"to_s":25.0}])");
  EXPECT_EQ(j["models"][1]["workload"]["cv"], 2.0);
  EXPECT_EQ(j["models"][2]["workload"]["file"], (kFixtures / "traces/arrivals.csv").lexically_normal().string());
  EXPECT_EQ(j["models"][3]["workload"]["function_row"], 3);
  EXPECT_EQ(j["models"][3]["workload"]["minutes"], 10);
  EXPECT_EQ(j["policy_options"]["triton"]["max_queue_delay_ms"], 2);
}

struct ErrorCase {
  std::string yaml;
  std::string message;
};

void expect_errors(const std::vector<ErrorCase>& cases) {
  for (const auto& c : cases) EXPECT_EQ(error_of(c.yaml), c.message) << c.yaml;
}

TEST(ServeExperimentConfigErrors, TopLevelKeys) {
  expect_errors({
      {with(kBase, "duration_s: 30", "duratoin_s: 30"),
       "t.yaml:2: duratoin_s: unknown key; valid keys: name, device, backend, precision, duration_s, warmup_s, seed, "
       "policies, models, policy_options, gpu"},
      {with(kBase, "duration_s: 30", "duration_s: thirty"), "t.yaml:2: duration_s: expected a number, not 'thirty'"},
      {with(kBase, "duration_s: 30", "duration_s: 0"), "t.yaml:2: duration_s: must be positive, not 0"},
      {with(kBase, "duration_s: 30", "duration_s: [30]"), "t.yaml:2: duration_s: expected a number, not a list"},
      {with(kBase, "duration_s: 30", "duration_s: .inf"), "t.yaml:2: duration_s: must be a finite number, not '.inf'"},
      {with(kBase, "duration_s: 30", "duration_s: -.Inf"), "t.yaml:2: duration_s: must be a finite number, not '-.Inf'"},
      {with(kBase, "duration_s: 30", "duration_s: .NaN"), "t.yaml:2: duration_s: must be a finite number, not '.NaN'"},
      {with(kBase, "duration_s: 30", "duration_s: 1e999"), "t.yaml:2: duration_s: must be a finite number, not '1e999'"},
      {with(kBase, "device: h100_sxm\n", ""), "t.yaml:1: device: missing; it is required (a device description name)"},
      {with(kBase, "device: h100_sxm", "device: h900"),
       "t.yaml:1: device: unknown 'h900'; choose h100_sxm, a100, or a description file NAME.json"},
      {with(kBase, "device: h100_sxm", "device: mine.json"),
       "t.yaml:1: device: no file 'mine.json' (looked at " + (kFixtures / "mine.json").string() +
           "; relative paths start at the config's folder)"},
      {with(kBase, "device: h100_sxm", "device: h100_sxm\ndevice: a100"), "t.yaml:2: device: given twice"},
      {with(kBase, "device: h100_sxm", "device: h100_sxm\nbackend: tpu"), "t.yaml:2: backend: unknown 'tpu'; choose sim, gpu"},
      {with(kBase, "device: h100_sxm", "device: h100_sxm\nprecision: fp64"),
       "t.yaml:2: precision: unknown 'fp64'; choose fp32, fp16, bf16"},
      {with(kBase, "duration_s: 30", "duration_s: 30\nwarmup_s: 30"),
       "t.yaml:3: warmup_s: 30 s leaves nothing to measure of duration_s 30 s"},
      {with(kBase, "duration_s: 30", "duration_s: 30\nwarmup_s: -1"), "t.yaml:3: warmup_s: must be >= 0, not -1"},
      {with(kBase, "duration_s: 30", "duration_s: 30\nseed: -1"), "t.yaml:3: seed: expected a whole number, not '-1'"},
      {with(kBase, "duration_s: 30", "duration_s: 30\ngpu: {input_copy: yes}"),
       "t.yaml:3: gpu.input_copy: expected true or false, not 'yes'"},
      {with(kBase, "duration_s: 30", "duration_s: 30\ngpu: {max_batch: 0}"),
       "t.yaml:3: gpu.max_batch: must be in 1..4096, not 0"},
      {with(kBase, "duration_s: 30", "duration_s: 30\ngpu: {copy: false}"),
       "t.yaml:3: gpu.copy: unknown key; valid keys: input_copy, max_batch"},
  });
}

// A description file of one's own: its path, resolved against the config's folder (it is checked
// whole when the experiment loads it).
TEST(ServeExperimentConfig, DeviceCanBeADescriptionFile) {
  const auto c = parse_experiment_config(with(kBase, "device: h100_sxm", "device: ../../../devices/t4.json"),
                                         kFixtures / "t.yaml", choices());
  EXPECT_EQ(c.device, (kFixtures / "../../../devices/t4.json").lexically_normal().string());
}

TEST(ServeExperimentConfig, GpuSectionDefaultsAndValues) {
  const auto defaults = parse_experiment_config(kBase, kFixtures / "t.yaml", choices());
  EXPECT_TRUE(defaults.gpu.input_copy);
  EXPECT_EQ(defaults.gpu.max_batch, 64);
  const auto set = parse_experiment_config(with(kBase, "duration_s: 30", "duration_s: 30\ngpu: {input_copy: false, max_batch: 16}"),
                                           kFixtures / "t.yaml", choices());
  EXPECT_FALSE(set.gpu.input_copy);
  EXPECT_EQ(set.gpu.max_batch, 16);
  EXPECT_EQ(to_json(set)["gpu"].dump(), R"({"input_copy":false,"max_batch":16})");
}

TEST(ServeExperimentConfigErrors, Policies) {
  expect_errors({
      {with(kBase, "[dstack]", "[dstack, trtion]"),
       "t.yaml:3: policies[1]: unknown 'trtion'; choose dstack, temporal, triton"},
      {with(kBase, "[dstack]", "[dstack, dstack]"), "t.yaml:3: policies[1]: 'dstack' is listed twice"},
      {with(kBase, "[dstack]", "dstack"),
       "t.yaml:3: policies: expected a non-empty list like [dstack, temporal, triton]"},
      {with(kBase, "[dstack]", "[]"), "t.yaml:3: policies: expected a non-empty list like [dstack, temporal, triton]"},
      {with(kBase, "policies: [dstack]\n", ""), "t.yaml:1: policies: missing; it is required (a list of policy names)"},
      {kBase + "policy_options:\n  trtion: {delay_ms: 2}\n",
       "t.yaml:17: policy_options.trtion: unknown 'trtion'; choose dstack, temporal, triton"},
      {kBase + "policy_options: 3\n", "t.yaml:16: policy_options: expected a map from policy name to its options"},
  });
}

TEST(ServeExperimentConfigErrors, Models) {
  expect_errors({
      {with(kBase, "model: resnet50", "model: resnet51"),
       "t.yaml:6: models[0].model: unknown 'resnet51'; choose resnet50, resnet18, mobilenet_v2, alexnet, or a path "
       "ending in .onnx"},
      {with(kBase, "model: resnet50", "model: nets/missing.onnx"),
       "t.yaml:6: models[0].model: no file 'nets/missing.onnx' (looked at " + (kFixtures / "nets/missing.onnx").string() +
           "; relative paths start at the config's folder)"},
      {with(kBase, "slo_ms: 50", "slo_ms: -5"), "t.yaml:7: models[0].slo_ms: must be positive, not -5"},
      {with(kBase, "slo_ms: 50", "slo: 50"),
       "t.yaml:7: models[0].slo: unknown key; valid keys: name, model, slo_ms, priority, max_queue, workload"},
      {with(kBase, "    slo_ms: 50\n", ""),
       "t.yaml:5: models[0].slo_ms: missing; it is required (the latency objective in ms)"},
      {with(kBase, "name: b", "name: a"),
       "t.yaml:9: models[1].name: 'a' is already the name of models[0]; names must be unique"},
      {with(kBase, "slo_ms: 50", "slo_ms: 50\n    priority: urgent"),
       "t.yaml:8: models[0].priority: unknown 'urgent'; choose high, normal"},
      {with(kBase, "slo_ms: 50", "slo_ms: 50\n    max_queue: 0"),
       "t.yaml:8: models[0].max_queue: must be in 1..4294967295, not 0"},
      {with(kBase, "    workload: {arrival: poisson, rate_rps: 10}\n", ""),
       "t.yaml:5: models[0].workload: missing; it is required (how requests arrive)"},
      {"device: a100\nduration_s: 1\npolicies: [dstack]\nmodels: []\n",
       "t.yaml:4: models: expected a non-empty list of models (name, model, slo_ms, workload)"},
      {"device: a100\nduration_s: 1\npolicies: [dstack]\nmodels:\n  - resnet50\n",
       "t.yaml:5: models[0]: expected a map with keys name, model, slo_ms, priority, max_queue, workload"},
  });
}

TEST(ServeExperimentConfigErrors, Workloads) {
  expect_errors({
      {with(kBase, "arrival: gamma", "arrival: possion"),
       "t.yaml:13: models[1].workload.arrival: unknown 'possion'; choose poisson, gamma, constant, trace, azure"},
      {with(kBase, "{arrival: poisson, rate_rps: 10}", "{rate_rps: 10}"),
       "t.yaml:8: models[0].workload.arrival: missing; it is required (poisson | gamma | constant | trace | azure)"},
      {with(kBase, "rate_rps: 10", "rate_rps: 0"), "t.yaml:8: models[0].workload.rate_rps: must be positive, not 0"},
      {with(kBase, "rate_rps: 20", "rate_rps: fast"), "t.yaml:14: models[1].workload.rate_rps: expected a number, not 'fast'"},
      {with(kBase, "{arrival: poisson, rate_rps: 10}", "{arrival: poisson, rate_rps: 10, cv: 2}"),
       "t.yaml:8: models[0].workload.cv: unknown key for poisson arrivals; valid keys: arrival, rate_rps, changes"},
      {with(kBase, "      cv: 2\n", ""),
       "t.yaml:13: models[1].workload.cv: missing; it is required (the burstiness; 1 is Poisson)"},
      {with(kBase, "cv: 2", "cv: 0"), "t.yaml:15: models[1].workload.cv: must be positive, not 0"},
      {with(kBase, "cv: 2", "cv: 101"),
       "t.yaml:15: models[1].workload.cv: must be at most 100 (Gamma gaps of shape 1/cv^2 degenerate above it), not 101"},
      {with(kBase, "workload: {arrival: poisson, rate_rps: 10}", "workload: poisson"),
       "t.yaml:8: models[0].workload: expected a map with arrival and its parameters"},
  });
}

TEST(ServeExperimentConfigErrors, RateChanges) {
  auto changes = [](const std::string& list) { return with(kBase, "cv: 2", "cv: 2\n      changes: " + list); };
  expect_errors({
      {changes("[{from_s: 5, to_s: 10, rate_rps: 20}, {at_s: 8, rate_rps: 5}]"),
       "t.yaml:16: models[1].workload.changes[1]: starts at 8 s, before the change before it ends (10 s); list "
       "changes in time order without overlaps"},
      {changes("[{from_s: 5, to_s: 4, rate_rps: 1}]"),
       "t.yaml:16: models[1].workload.changes[0].to_s: the ramp must end after it starts at 5 s"},
      {changes("[{rate_rps: 5}]"),
       "t.yaml:16: models[1].workload.changes[0]: expected {at_s, rate_rps} for a step or {from_s, to_s, rate_rps} "
       "for a ramp"},
      {changes("[{at_s: 1, to_s: 3, rate_rps: 5}]"),
       "t.yaml:16: models[1].workload.changes[0].to_s: unknown key for a step (a ramp has from_s, to_s, rate_rps); "
       "valid keys: at_s, rate_rps"},
      {changes("[{at_s: 1}]"),
       "t.yaml:16: models[1].workload.changes[0].rate_rps: missing; it is required (the rate the change goes to)"},
      {changes("[{at_s: 1, rate_rps: -3}]"),
       "t.yaml:16: models[1].workload.changes[0].rate_rps: must be positive, not -3"},
      {changes("{at_s: 1, rate_rps: 3}"),
       "t.yaml:16: models[1].workload.changes: expected a list of changes, each {at_s, rate_rps} for a step or "
       "{from_s, to_s, rate_rps} for a ramp"},
  });
}

TEST(ServeExperimentConfigErrors, TraceAndAzureFiles) {
  const std::string azure_file = "../../../experiments/traces/azure_functions_2019_synthetic.csv";
  auto workload = [](const std::string& w) {
    return with(kBase, "{arrival: poisson, rate_rps: 10}", w);
  };
  expect_errors({
      {workload("{arrival: trace}"),
       "t.yaml:8: models[0].workload.file: missing; it is required (the trace, relative to the config file)"},
      {workload("{arrival: trace, file: nope.csv}"),
       "t.yaml:8: models[0].workload.file: no file 'nope.csv' (looked at " + (kFixtures / "nope.csv").string() +
           "; relative paths start at the config's folder)"},
      {workload("{arrival: trace, file: traces/arrivals.csv, rate_rps: 5}"),
       "t.yaml:8: models[0].workload.rate_rps: unknown key for trace arrivals; valid keys: arrival, file, rate_scale"},
      {workload("{arrival: trace, file: traces/arrivals.csv, rate_scale: 0}"),
       "t.yaml:8: models[0].workload.rate_scale: must be positive, not 0"},
      {workload("{arrival: azure, file: " + azure_file + ", function: abc, function_row: 1}"),
       "t.yaml:8: models[0].workload.function_row: give function or function_row, not both"},
      {workload("{arrival: azure, file: " + azure_file + "}"),
       "t.yaml:8: models[0].workload: azure arrivals need function (a HashFunction of the file) or function_row "
       "(0-based)"},
      {workload("{arrival: azure, file: " + azure_file + ", function: abc}"),
       "t.yaml:8: models[0].workload.function: azure trace " + (kFixtures / azure_file).lexically_normal().string() +
           ": no function with HashFunction 'abc' among its 8 rows"},
      {workload("{arrival: azure, file: " + azure_file + ", function_row: 0, start_minute: 1440}"),
       "t.yaml:8: models[0].workload.start_minute: must be in 0..1439, not 1440"},
      {workload("{arrival: azure, file: " + azure_file + ", function_row: 0, start_minute: 1430, minutes: 11}"),
       "t.yaml:8: models[0].workload.minutes: must be in 1..10, not 11"},
      {workload("{arrival: azure, file: " + azure_file + ", function_row: 0, cv: 2}"),
       "t.yaml:8: models[0].workload.cv: unknown key for azure arrivals; valid keys: arrival, file, function, "
       "function_row, rate_scale, cv_scale, start_minute, minutes"},
  });
}

TEST(ServeExperimentConfigErrors, NotAConfig) {
  EXPECT_EQ(error_of(""), "t.yaml: empty; an experiment needs at least device, duration_s, policies and models");
  // Latin-1 on line 2, a UTF-16 surrogate encoded as UTF-8 (CESU) on line 1, an overlong '/'.
  EXPECT_EQ(error_of("device: a100\nname: caf\xe9\n"), "t.yaml:2: not UTF-8 text (byte 22 of the file); save it as UTF-8");
  EXPECT_EQ(error_of("name: \xed\xa0\x80\n"), "t.yaml:1: not UTF-8 text (byte 6 of the file); save it as UTF-8");
  EXPECT_EQ(error_of("name: \xc0\xaf\n"), "t.yaml:1: not UTF-8 text (byte 6 of the file); save it as UTF-8");
  EXPECT_EQ(error_of(with(kBase, "device: h100_sxm", "device: h100_sxm\nname: caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x9a\x80")),
            "(no error)");
  EXPECT_EQ(error_of("- a\n- b\n"),
            "t.yaml: expected a map with keys name, device, backend, precision, duration_s, warmup_s, seed, policies, "
            "models, policy_options, gpu (see runtime/serve/README.md)");
  EXPECT_EQ(error_of("device: a100\npolicies: [dstack\n").rfind("t.yaml:3: not valid YAML: ", 0), 0u)
      << error_of("device: a100\npolicies: [dstack\n");
  try {
    load_experiment_config(kFixtures / "absent.yaml", choices());
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), "experiment config " + (kFixtures / "absent.yaml").string() + ": cannot be read (missing?)");
  }
}

}  // namespace
}  // namespace dstack::serve
