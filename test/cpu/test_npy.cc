#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "runtime/core/npy.h"

namespace dstack {
namespace {

std::string tmp(const std::string& name) { return (std::filesystem::temp_directory_path() / ("dstack_npy_" + name)).string(); }

void write_raw(const std::string& path, const std::string& header_dict, const std::string& payload) {
  std::string h = header_dict;
  while ((10 + h.size() + 1) % 64) h.push_back(' ');
  h.push_back('\n');
  std::ofstream f(path, std::ios::binary);
  f.write("\x93NUMPY\x01\x00", 8);
  char len[2] = {static_cast<char>(h.size() & 0xff), static_cast<char>(h.size() >> 8)};
  f.write(len, 2);
  f << h << payload;
}

std::string error_of(const std::string& path) {
  try {
    read_npy(path);
  } catch (const NpyError& e) {
    return e.what();
  }
  return "no error";
}

TEST(Npy, RoundTrip) {
  NpyArray a{{2, 3}, {1, 2, 3, 4, 5, 6.5f}};
  write_npy(tmp("rt.npy"), a);
  NpyArray b = read_npy(tmp("rt.npy"));
  EXPECT_EQ(b.shape, a.shape);
  EXPECT_EQ(b.data, a.data);
  NpyArray v{{4}, {1, 2, 3, 4}};
  write_npy(tmp("v.npy"), v);
  EXPECT_EQ(read_npy(tmp("v.npy")).shape, (std::vector<int64_t>{4}));
}

TEST(Npy, IntegerIdsAreConverted) {
  int64_t ids[3] = {0, 101, 30521};
  write_raw(tmp("i8.npy"), "{'descr': '<i8', 'fortran_order': False, 'shape': (1, 3), }",
            std::string(reinterpret_cast<char*>(ids), sizeof ids));
  NpyArray a = read_npy(tmp("i8.npy"));
  EXPECT_EQ(a.data, (std::vector<float>{0.f, 101.f, 30521.f}));
}

TEST(Npy, BadFilesGiveClearErrors) {
  { std::ofstream(tmp("junk.npy")) << "hello"; }
  EXPECT_NE(error_of(tmp("junk.npy")).find("not a NumPy .npy file"), std::string::npos);
  write_raw(tmp("short.npy"), "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", std::string(8, '\0'));
  EXPECT_NE(error_of(tmp("short.npy")).find("truncated data"), std::string::npos);
  write_raw(tmp("f.npy"), "{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }", std::string(4, '\0'));
  EXPECT_NE(error_of(tmp("f.npy")).find("Fortran"), std::string::npos);
  write_raw(tmp("u1.npy"), "{'descr': '|u1', 'fortran_order': False, 'shape': (1,), }", std::string(1, '\0'));
  EXPECT_NE(error_of(tmp("u1.npy")).find("dtype '|u1' is not supported"), std::string::npos);
  int64_t big = (int64_t{1} << 40) + 1;
  write_raw(tmp("big.npy"), "{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }",
            std::string(reinterpret_cast<char*>(&big), 8));
  EXPECT_NE(error_of(tmp("big.npy")).find("not exactly representable"), std::string::npos);
  EXPECT_NE(error_of(tmp("missing.npy")).find("cannot open"), std::string::npos);
}

}  // namespace
}  // namespace dstack
