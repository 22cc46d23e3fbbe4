// small_tmpfs.h: a small tmpfs mounted on a fresh temp folder, for tests of a
// full or read-only disk. Mounting needs privileges: mounted() is false, with
// the reason in why(), where they are missing, and such tests say so and stop.
#ifndef CRMSYNC_TESTS_SMALL_TMPFS_H_
#define CRMSYNC_TESTS_SMALL_TMPFS_H_

#include <string>

#include "test_support.h"

namespace crmsync::testing {

class SmallTmpfs {
 public:
  /// Mounts a tmpfs of `size` ("1m", "2m") on a new temp folder.
  explicit SmallTmpfs(const std::string& size, bool read_only = false);
  /// Unmounts (lazily) when mounted.
  ~SmallTmpfs();
  SmallTmpfs(const SmallTmpfs&) = delete;
  SmallTmpfs& operator=(const SmallTmpfs&) = delete;

  bool mounted() const { return mounted_; }
  const std::string& why() const { return why_; }
  const std::string& path() const { return dir_.path(); }
  std::string File(const std::string& name) const { return dir_.File(name); }
  /// Writes zeros to `name` until the file system refuses (ENOSPC); false when
  /// the file cannot be created at all.
  bool Fill(const std::string& name);

 private:
  TempDir dir_;
  bool mounted_ = false;
  std::string why_;
};

}  // namespace crmsync::testing

#endif  // CRMSYNC_TESTS_SMALL_TMPFS_H_
