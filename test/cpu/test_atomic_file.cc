// AtomicFile (runtime/core/atomic_file.h): a file appears under its name whole or not at all, and an
// abandoned write leaves an earlier file of that name as it was.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "runtime/core/atomic_file.h"
#include "test/test_files.h"

namespace dstack {
namespace {
namespace fs = std::filesystem;

std::string read(const fs::path& p) { return test::slurp(p); }
fs::path fresh_dir(const std::string& name) { return test::fresh_temp_dir("atomic_" + name); }

TEST(AtomicFile, CommitPutsTheWholeTextUnderTheNameAndNoPartialFile) {
  const fs::path d = fresh_dir("commit");
  {
    AtomicFile f(d / "sub" / "a.csv");
    f.out() << "x,y\n1,2\n";
    EXPECT_FALSE(fs::exists(d / "sub" / "a.csv")) << "visible before commit";
    f.commit();
  }
  EXPECT_EQ(read(d / "sub" / "a.csv"), "x,y\n1,2\n");
  EXPECT_FALSE(fs::exists(d / "sub" / "a.csv.partial"));
}

TEST(AtomicFile, AnAbandonedWriteLeavesNothingAndKeepsTheEarlierFile) {
  const fs::path d = fresh_dir("abandon");
  write_file_atomically(d / "m.json", "{\"old\": 1}\n");
  try {
    AtomicFile f(d / "m.json");
    f.out() << "{\"new\": ";
    throw std::runtime_error("interrupted midway");
  } catch (const std::runtime_error&) {
  }
  EXPECT_EQ(read(d / "m.json"), "{\"old\": 1}\n");
  EXPECT_FALSE(fs::exists(d / "m.json.partial"));
  {
    AtomicFile f(d / "never.csv");
    f.out() << "half";
  }
  EXPECT_FALSE(fs::exists(d / "never.csv"));
  EXPECT_FALSE(fs::exists(d / "never.csv.partial"));
}

TEST(AtomicFile, AnUnwritableFolderIsAnErrorNamingIt) {
  try {
    AtomicFile f("/dev/null/x/out.csv");
    FAIL() << "opened a file under /dev/null";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot write /dev/null/x/out.csv"), std::string::npos) << e.what();
  }
  try {
    require_writable_folder("/dev/null/x");
    FAIL() << "accepted /dev/null/x as an output folder";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot write to the output folder /dev/null/x"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("choose a writable folder with -o"), std::string::npos) << e.what();
  }
  const fs::path d = fresh_dir("ok");
  EXPECT_NO_THROW(require_writable_folder(d / "new"));
  EXPECT_TRUE(fs::is_directory(d / "new"));
  EXPECT_TRUE(fs::is_empty(d / "new"));
}

}  // namespace
}  // namespace dstack
