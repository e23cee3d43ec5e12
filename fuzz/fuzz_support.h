#pragma once
// What every fuzz target shares. A reader passes when it returns or throws its documented error type
// with a message that names the file; anything else (a crash, a sanitizer report, another exception
// type, an error that does not say which file) stops the fuzzer with the input that caused it.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <typeinfo>
#include <unistd.h>

namespace dstack::fuzz {

// Readers take paths: each input is written to one file per process (libFuzzer runs inputs one at a
// time in a process, and -jobs/-workers use separate processes).
inline std::filesystem::path input_file(const char* name) {
  static const std::filesystem::path folder = [] {
    auto f = std::filesystem::temp_directory_path() / ("dstack-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(f);
    return f;
  }();
  return folder / name;
}

inline std::filesystem::path write_input(const uint8_t* data, size_t size, const char* name) {
  auto path = input_file(name);
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(data),
                                                                static_cast<std::streamsize>(size));
  return path;
}

[[noreturn]] inline void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "\nfuzz: %s: %s\n", what, detail.c_str());
  std::abort();
}

// The error a reader documents: its message must name the input (`origin`), so a user knows which
// file to fix.
inline void expect_names(const std::exception& e, const std::string& origin) {
  if (std::string(e.what()).find(origin) == std::string::npos)
    fail("an error that does not name the file", std::string(e.what()) + " (expected the text '" + origin + "')");
}

// Any exception but the documented one is a bug: callers catch the reader's type first.
[[noreturn]] inline void undocumented(const std::exception& e) {
  fail("an undocumented exception type", std::string(typeid(e).name()) + ": " + e.what());
}

// One input through a reader of files: `read(path)` may return (and check what it returned) or throw
// `Error` naming the file; anything else is a finding.
template <typename Error, typename Read>
void read_file(const uint8_t* data, size_t size, const char* name, Read read) {
  const auto path = write_input(data, size, name);
  try {
    read(path);
  } catch (const Error& e) {
    expect_names(e, path.string());
  } catch (const std::exception& e) {
    undocumented(e);
  }
}

}  // namespace dstack::fuzz
