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
  EXPECT_NE(error_of(tmp("short.npy")).find("needs 16 bytes of data, but 8 follow the header: the file is truncated"),
            std::string::npos);
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

// A header is believed only as far as the file's bytes back it: nothing of its claimed size is allocated.
TEST(Npy, HeadersThatLieAboutTheSizeAreRefused) {
  write_raw(tmp("huge.npy"), "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000, 1000000000), }",
            std::string(4, '\0'));
  EXPECT_NE(error_of(tmp("huge.npy")).find("needs 4000000000000000000 bytes of data, but 4 follow"), std::string::npos);
  write_raw(tmp("overflow.npy"), "{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999999, 3), }",
            std::string(8, '\0'));
  EXPECT_NE(error_of(tmp("overflow.npy")).find("needs more than 2^64 bytes"), std::string::npos);
  write_raw(tmp("long.npy"), "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", std::string(12, '\0'));
  EXPECT_NE(error_of(tmp("long.npy")).find("longer than its array"), std::string::npos);
  write_raw(tmp("syntax.npy"), "{'descr': '<f4', 'fortran_order': False, 'shape': (2, -1), }", std::string(8, '\0'));
  EXPECT_NE(error_of(tmp("syntax.npy")).find("shape (2, -1) is not a tuple of non-negative integers"),
            std::string::npos);
}

// 0-d and empty arrays are valid .npy files: read as what they are (the caller judges the shape).
TEST(Npy, ScalarsAndEmptyArraysReadAsWritten) {
  float one = 1.5f;
  write_raw(tmp("scalar.npy"), "{'descr': '<f4', 'fortran_order': False, 'shape': (), }",
            std::string(reinterpret_cast<char*>(&one), 4));
  NpyArray s = read_npy(tmp("scalar.npy"));
  EXPECT_TRUE(s.shape.empty());
  EXPECT_EQ(s.data, (std::vector<float>{1.5f}));
  write_raw(tmp("empty.npy"), "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }", "");
  NpyArray e = read_npy(tmp("empty.npy"));
  EXPECT_EQ(e.shape, (std::vector<int64_t>{0, 3}));
  EXPECT_TRUE(e.data.empty());
}

}  // namespace
}  // namespace dstack
