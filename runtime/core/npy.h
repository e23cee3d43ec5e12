#pragma once
// NumPy .npy files (format 1.0/2.0/3.0), float32 little-endian, C order: what `dstack infer` reads
// and writes. Anything else (another dtype, Fortran order, a truncated file) is a clear error.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace dstack {

struct NpyArray {
  std::vector<int64_t> shape;
  std::vector<float> data;
};

class NpyError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Reads float32 arrays; float64 and integer arrays (e.g. token ids) are converted to float32 when
// every value is exactly representable, else rejected. Throws NpyError naming the file and problem.
NpyArray read_npy(const std::string& path);
void write_npy(const std::string& path, const NpyArray& array);

}  // namespace dstack
