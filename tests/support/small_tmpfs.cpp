// A small tmpfs for disk-full tests; see small_tmpfs.h.
#include "small_tmpfs.h"

#include <sys/mount.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace crmsync::testing {

SmallTmpfs::SmallTmpfs(const std::string& size, bool read_only) {
  if (::mount("tmpfs", dir_.path().c_str(), "tmpfs", read_only ? MS_RDONLY : 0,
              ("size=" + size).c_str()) == 0) {
    mounted_ = true;
  } else {
    why_ = std::strerror(errno);
  }
}

SmallTmpfs::~SmallTmpfs() {
  if (mounted_) ::umount2(dir_.path().c_str(), MNT_DETACH);
}

bool SmallTmpfs::Fill(const std::string& name) {
  std::FILE* f = std::fopen(File(name).c_str(), "wb");
  if (f == nullptr) return false;
  static const char kBlock[4096] = {};
  while (std::fwrite(kBlock, 1, sizeof(kBlock), f) == sizeof(kBlock)) {
  }
  std::fclose(f);
  return true;
}

}  // namespace crmsync::testing
