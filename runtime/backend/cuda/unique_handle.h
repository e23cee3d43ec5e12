#pragma once
// Move-only owner of one CUDA handle. Release<H> is a functor that frees it and never throws:
// destructors run during unwinding, and a failed free at teardown is not worth a crash.
#include <utility>

namespace dstack::cuda {

template <typename Handle, typename Release>
class UniqueHandle {
 public:
  UniqueHandle() = default;
  explicit UniqueHandle(Handle h) noexcept : h_(h) {}
  UniqueHandle(const UniqueHandle&) = delete;
  UniqueHandle& operator=(const UniqueHandle&) = delete;
  UniqueHandle(UniqueHandle&& o) noexcept : h_(std::exchange(o.h_, Handle{})) {}
  UniqueHandle& operator=(UniqueHandle&& o) noexcept {
    if (this != &o) {
      reset();
      h_ = std::exchange(o.h_, Handle{});
    }
    return *this;
  }
  ~UniqueHandle() { reset(); }

  Handle get() const noexcept { return h_; }
  explicit operator bool() const noexcept { return h_ != Handle{}; }
  Handle release() noexcept { return std::exchange(h_, Handle{}); }
  void reset() noexcept {
    if (h_ != Handle{}) Release{}(std::exchange(h_, Handle{}));
  }

 private:
  Handle h_{};
};

}  // namespace dstack::cuda
