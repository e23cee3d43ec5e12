#pragma once
// An output file written whole or not at all: the text goes to `<name>.partial` beside it and is
// renamed over `<name>` only once written and flushed, so an error, Ctrl-C or a crash midway never
// leaves a truncated file under the name a reader (a plot, a script, `diff`) takes for complete.
#include <filesystem>
#include <fstream>

namespace dstack {

class AtomicFile {
 public:
  // Creates the parent folders; throws std::runtime_error naming the file when it cannot be opened.
  explicit AtomicFile(std::filesystem::path path, std::ios::openmode mode = std::ios::out);
  ~AtomicFile();  // an uncommitted file's partial text is removed
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  std::ostream& out() { return out_; }
  // Flushes and renames the partial file over the target; throws std::runtime_error naming the file
  // when writing failed (a full disk, say).
  void commit();

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_, partial_;
  std::ofstream out_;
  bool committed_ = false;
};

// Creates `dir` and checks a file can be written there, before hours of work would be lost to an
// output folder that cannot take it: throws std::runtime_error naming it and the fix.
void require_writable_folder(const std::filesystem::path& dir);

// `text` as the whole of `path`, through AtomicFile.
void write_file_atomically(const std::filesystem::path& path, const std::string& text);

}  // namespace dstack
