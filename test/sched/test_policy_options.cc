// Policy options (runtime/sched/options.h): every registered policy refuses an unknown key, naming
// the valid ones, and a value of the wrong type or out of range, naming the key; the defaults and
// valid values pass.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "runtime/sched/options.h"
#include "runtime/sched/registry.h"

namespace dstack::sched {
namespace {

using nlohmann::json;

std::string error_of(const std::string& policy, const json& options) {
  try {
    check_policy_options(policy, options);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(PolicyOptions, EveryPolicyAcceptsNoOptions) {
  for (const auto& name : policy_names()) {
    EXPECT_EQ(error_of(name, json::object()), "") << name;
    EXPECT_EQ(error_of(name, json()), "") << name;  // `triton:` with nothing after it
  }
}

TEST(PolicyOptions, EveryPolicyRefusesAnUnknownKeyListingTheValidOnes) {
  for (const auto& name : policy_names()) {
    const std::string e = error_of(name, {{"max_batchh", 8}});
    EXPECT_NE(e.find("policy_options." + name + ": unknown option 'max_batchh'"), std::string::npos) << e;
    EXPECT_NE(e.find(name + " takes "), std::string::npos) << e;
    EXPECT_NE(e.find("drop_expired"), std::string::npos) << name << ": every policy has drop_expired: " << e;
  }
}

TEST(PolicyOptions, EveryPolicyRefusesAWrongTypeAndAnAbsurdValue) {
  for (const auto& name : policy_names()) {
    const std::string e = error_of(name, {{"drop_expired", "yes"}});
    EXPECT_NE(e.find("policy_options." + name + ".drop_expired: expected true or false, got \"yes\""), std::string::npos)
        << e;
  }
  EXPECT_NE(error_of("triton", {{"max_batch", 0}}).find("policy_options.triton.max_batch: 0 is out of range; use an integer from 1 to"),
            std::string::npos);
  EXPECT_NE(error_of("triton", {{"max_batch", 2.5}}).find("expected an integer"), std::string::npos);
  EXPECT_NE(error_of("triton", {{"max_batch", 1e9}}).find("out of range"), std::string::npos);
  EXPECT_NE(error_of("triton", {{"max_queue_delay_ms", -1}}).find("max_queue_delay_ms: -1 is out of range"), std::string::npos);
  EXPECT_NE(error_of("triton", {{"max_queue_delay_ms", std::numeric_limits<double>::quiet_NaN()}}).find("out of range"),
            std::string::npos);
  EXPECT_NE(error_of("dstack", {{"epoch_s", 0}}).find("policy_options.dstack.epoch_s: 0 is out of range; use a finite number above 0"),
            std::string::npos);
  EXPECT_NE(error_of("dstack", {{"ewma", 1.5}}).find("policy_options.dstack.ewma: 1.5 is out of range"), std::string::npos);
  EXPECT_NE(error_of("clipper", {{"signal", "nope"}}).find("policy_options.clipper.signal: unknown value 'nope'; choose requests, batch_latency"),
            std::string::npos);
  EXPECT_NE(error_of("clipper", {{"start_batch", 80}, {"max_batch", 16}}).find("start_batch: 80 is out of range; use an integer from 1 to 16"),
            std::string::npos);
  EXPECT_NE(error_of("gslice", {{"target_fraction", 0}}).find("target_fraction"), std::string::npos);
  EXPECT_NE(error_of("mps", json::array({1, 2})).find("policy_options.mps: expected a map of option: value"), std::string::npos);
  EXPECT_NE(error_of("nope", json::object()).find("unknown policy 'nope'"), std::string::npos);
}

TEST(PolicyOptions, ValidValuesPass) {
  EXPECT_EQ(error_of("triton", {{"max_batch", 16}, {"max_queue_delay_ms", 0.5}, {"drop_expired", true}}), "");
  EXPECT_EQ(error_of("triton", {{"max_batch", 16.0}}), "");  // YAML's 16.0 is an integer value
  EXPECT_EQ(error_of("clipper", {{"signal", "requests"}, {"decrease", 0.5}, {"increase", 2}}), "");
  EXPECT_EQ(error_of("nexus", {{"adapt_rates", false}, {"duty_cycle_ms", 10}, {"epoch_s", 0.25}, {"ewma", 1}}), "");
  EXPECT_EQ(error_of("dstack", {{"replan_change", 0.3}, {"max_batch", 32}}), "");
}

TEST(PolicyOptions, ReaderListsEveryUnknownKeyAndKnowsNothingItWasNotAsked) {
  OptionReader r({{"a", 1}, {"bb", 2}, {"c", true}}, "p");
  EXPECT_EQ(r.integer("a", 0, 0, 5), 1);
  EXPECT_EQ(r.integer("z", 4, 0, 5), 4);  // absent: the default
  try {
    r.done();
    FAIL() << "unknown keys bb and c passed";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "policy_options.p: unknown options 'bb', 'c'; p takes a, z");
  }
}

}  // namespace
}  // namespace dstack::sched
