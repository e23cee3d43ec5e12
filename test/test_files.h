#pragma once
// Files in tests: a file's whole text, and a fresh (emptied) folder under the test temp folder.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace dstack::test {

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::filesystem::path fresh_temp_dir(const std::string& name) {
  const std::filesystem::path d = std::filesystem::path(::testing::TempDir()) / ("dstack_" + name);
  std::filesystem::remove_all(d);
  return d;
}

}  // namespace dstack::test
