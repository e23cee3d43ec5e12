#include "runtime/core/npy.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <memory>
#include <regex>

#include "runtime/core/atomic_file.h"

namespace dstack {
namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw NpyError(fmt::format("{}: {}", path, what));
}

template <typename T>
void convert(const std::string& path, const std::vector<char>& raw, std::vector<float>& out, const char* dtype) {
  out.resize(raw.size() / sizeof(T));
  for (size_t i = 0; i < out.size(); ++i) {
    T v;
    std::memcpy(&v, raw.data() + i * sizeof(T), sizeof(T));
    out[i] = static_cast<float>(v);
    if (static_cast<T>(out[i]) != v && !(std::isnan(static_cast<double>(v))))
      fail(path, fmt::format("element {} ({}) of this {} array is not exactly representable as float32; "
                             "save it as float32", i, static_cast<double>(v), dtype));
  }
}

}  // namespace

NpyArray read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open the file");
  char magic[8];
  if (!in.read(magic, 8) || std::memcmp(magic, "\x93NUMPY", 6) != 0) fail(path, "not a NumPy .npy file (bad magic)");
  const int major = static_cast<unsigned char>(magic[6]);
  uint32_t header_len = 0;
  if (major == 1) {
    unsigned char b[2];
    if (!in.read(reinterpret_cast<char*>(b), 2)) fail(path, "truncated header");
    header_len = b[0] | (b[1] << 8);
  } else if (major == 2 || major == 3) {
    unsigned char b[4];
    if (!in.read(reinterpret_cast<char*>(b), 4)) fail(path, "truncated header");
    header_len = b[0] | (b[1] << 8) | (b[2] << 16) | (static_cast<uint32_t>(b[3]) << 24);
  } else {
    fail(path, fmt::format("unsupported .npy format version {}", major));
  }
  if (header_len > (1u << 20)) fail(path, "header too large");
  std::string header(header_len, '\0');
  if (!in.read(header.data(), header_len)) fail(path, "truncated header");

  std::smatch m;
  if (!std::regex_search(header, m, std::regex(R"('descr'\s*:\s*'([^']*)')"))) fail(path, "header has no 'descr'");
  const std::string descr = m[1];
  if (!std::regex_search(header, m, std::regex(R"('fortran_order'\s*:\s*(True|False))"))) fail(path, "header has no 'fortran_order'");
  if (m[1] == "True") fail(path, "Fortran-ordered arrays are not supported; save with np.ascontiguousarray");
  if (!std::regex_search(header, m, std::regex(R"('shape'\s*:\s*\(([^)]*)\))"))) fail(path, "header has no 'shape'");
  NpyArray a;
  const std::string dims = m[1];
  static const std::regex dim_syntax(R"(\s*(\d+\s*(,\s*\d+\s*)*,?\s*)?)");
  if (!std::regex_match(dims, dim_syntax))
    fail(path, fmt::format("header shape ({}) is not a tuple of non-negative integers", dims));

  size_t elem = 0;
  if (descr == "<f4" || descr == "<f8" || descr == "<i8" || descr == "<i4")
    elem = descr[2] == '8' ? 8 : 4;
  else
    fail(path, fmt::format("dtype '{}' is not supported: use float32 ('<f4'); float64 and int32/int64 are converted", descr));

  // The header is checked against the bytes the file really holds before anything is allocated, so a
  // header that lies about its shape is an error, not an allocation of its claimed size.
  const std::streamoff data_start = in.tellg();
  in.seekg(0, std::ios::end);
  const auto data_bytes = static_cast<uint64_t>(in.tellg() - data_start);
  in.seekg(data_start);
  static const std::regex number(R"(\d+)");
  uint64_t count = 1;
  bool overflow = false;
  for (std::sregex_iterator it(dims.begin(), dims.end(), number), end; it != end; ++it) {
    const std::string digits = it->str();
    const uint64_t d = digits.size() > 18 ? UINT64_MAX : std::stoull(digits);
    if (d > static_cast<uint64_t>(INT64_MAX)) overflow = true;
    a.shape.push_back(overflow ? INT64_MAX : static_cast<int64_t>(d));
    if (d != 0 && count > UINT64_MAX / elem / d) overflow = true;
    if (!overflow) count *= d;
  }
  if (overflow || count * elem != data_bytes)
    fail(path, fmt::format("the header's shape ({}) of {}-byte elements needs {} bytes of data, but {} follow the "
                           "header: the file is {} or its header is wrong",
                           dims, elem, overflow ? std::string("more than 2^64") : std::to_string(count * elem),
                           data_bytes, !overflow && data_bytes > count * elem ? "longer than its array" : "truncated"));
  std::vector<char> raw(static_cast<size_t>(count) * elem);
  if (!in.read(raw.data(), static_cast<std::streamsize>(raw.size())))
    fail(path, fmt::format("truncated data: shape ({}) needs {} bytes", fmt::join(a.shape, ", "), raw.size()));

  if (descr == "<f4") {
    a.data.resize(static_cast<size_t>(count));
    if (!raw.empty()) std::memcpy(a.data.data(), raw.data(), raw.size());  // an empty vector's data() may be null
  } else if (descr == "<f8") {
    a.data.resize(static_cast<size_t>(count));
    for (size_t i = 0; i < a.data.size(); ++i) {
      double v;
      std::memcpy(&v, raw.data() + i * 8, 8);
      a.data[i] = static_cast<float>(v);  // float64 data narrows like NumPy's astype(float32)
    }
  } else if (descr == "<i8") {
    convert<int64_t>(path, raw, a.data, "int64");
  } else {
    convert<int32_t>(path, raw, a.data, "int32");
  }
  return a;
}

void write_npy(const std::string& path, const NpyArray& a) {
  std::string shape;
  for (int64_t d : a.shape) shape += fmt::format("{}, ", d);
  if (a.shape.size() > 1) shape.resize(shape.size() - 2);  // (n,) keeps its comma, (n, m) does not end in one
  std::string header = fmt::format("{{'descr': '<f4', 'fortran_order': False, 'shape': ({}), }}", shape);
  // Pad so the data starts on a 64-byte boundary, ending the header with a newline (the spec).
  const size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  // Whole or not at all: an interrupted write leaves no truncated array under the name.
  std::unique_ptr<AtomicFile> file;
  try {
    file = std::make_unique<AtomicFile>(path, std::ios::out | std::ios::binary);
  } catch (const std::runtime_error&) {
    fail(path, "cannot create the file");
  }
  std::ostream& out = file->out();
  out.write("\x93NUMPY\x01\x00", 8);
  const auto len = static_cast<uint16_t>(header.size());
  const char len_bytes[2] = {static_cast<char>(len & 0xff), static_cast<char>(len >> 8)};
  out.write(len_bytes, 2);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(reinterpret_cast<const char*>(a.data.data()), static_cast<std::streamsize>(a.data.size() * sizeof(float)));
  if (!out) fail(path, "write failed");
  try {
    file->commit();
  } catch (const std::runtime_error&) {
    fail(path, "write failed");
  }
}

}  // namespace dstack
