#include "runtime/core/atomic_file.h"

#include <stdexcept>
#include <system_error>

namespace dstack {
namespace fs = std::filesystem;

AtomicFile::AtomicFile(fs::path path, std::ios::openmode mode) : path_(std::move(path)) {
  partial_ = path_;
  partial_ += ".partial";
  std::error_code ec;
  if (path_.has_parent_path()) fs::create_directories(path_.parent_path(), ec);
  if (ec)
    throw std::runtime_error("cannot write " + path_.string() + ": cannot create its folder (" + ec.message() +
                             "); choose a writable output folder");
  out_.open(partial_, mode | std::ios::trunc);
  if (!out_)
    throw std::runtime_error("cannot write " + path_.string() + " (check the folder exists and is writable)");
}

AtomicFile::~AtomicFile() {
  if (committed_) return;
  out_.close();
  std::error_code ec;
  fs::remove(partial_, ec);  // best effort: a destructor must not throw
}

void AtomicFile::commit() {
  out_.flush();
  const bool ok = static_cast<bool>(out_);
  out_.close();
  if (!ok || out_.fail()) {
    std::error_code ec;
    fs::remove(partial_, ec);
    committed_ = true;
    throw std::runtime_error("writing " + path_.string() + " failed (is the disk full?)");
  }
  std::error_code ec;
  fs::rename(partial_, path_, ec);
  committed_ = true;
  if (ec) {
    fs::remove(partial_, ec);
    throw std::runtime_error("cannot write " + path_.string() + ": " + ec.message());
  }
}

void require_writable_folder(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (!ec && !fs::is_directory(dir, ec)) ec = std::make_error_code(std::errc::not_a_directory);
  if (ec)
    throw std::runtime_error("cannot write to the output folder " + dir.string() + ": " + ec.message() +
                             "; choose a writable folder with -o");
  const fs::path probe = dir / ".dstack-write-check.partial";
  {
    std::ofstream out(probe);
    out << "x";
    out.flush();
    if (!out) {
      fs::remove(probe, ec);
      throw std::runtime_error("cannot write to the output folder " + dir.string() +
                               " (not writable, or the disk is full); choose a writable folder with -o");
    }
  }
  fs::remove(probe, ec);
}

void write_file_atomically(const fs::path& path, const std::string& text) {
  AtomicFile f(path);
  f.out() << text;
  f.commit();
}

}  // namespace dstack
