// Checking a plugin file's ELF headers before dlopen(); see elf_check.h.
#include "plugin_host/elf_check.h"

#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <vector>

namespace crmsync::engine {
namespace {

#if defined(__x86_64__)
constexpr int kMachine = EM_X86_64;
#elif defined(__aarch64__)
constexpr int kMachine = EM_AARCH64;
#elif defined(__i386__)
constexpr int kMachine = EM_386;
#elif defined(__arm__)
constexpr int kMachine = EM_ARM;
#elif defined(__riscv)
constexpr int kMachine = EM_RISCV;
#elif defined(__powerpc64__)
constexpr int kMachine = EM_PPC64;
#elif defined(__s390x__)
constexpr int kMachine = EM_S390;
#else
#error "elf_check.cpp: add this machine's EM_ constant"
#endif

constexpr unsigned char kClass = sizeof(void*) == 8 ? ELFCLASS64 : ELFCLASS32;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
constexpr unsigned char kByteOrder = ELFDATA2LSB;
#else
constexpr unsigned char kByteOrder = ELFDATA2MSB;
#endif

using Ehdr = ElfW(Ehdr);
using Phdr = ElfW(Phdr);
using Shdr = ElfW(Shdr);

std::string MachineName(int machine) {
  switch (machine) {
    case EM_X86_64:
      return "x86-64";
    case EM_386:
      return "x86 (32-bit)";
    case EM_AARCH64:
      return "AArch64 (64-bit ARM)";
    case EM_ARM:
      return "ARM (32-bit)";
    case EM_RISCV:
      return "RISC-V";
    case EM_PPC64:
      return "PowerPC 64";
    case EM_PPC:
      return "PowerPC";
    case EM_S390:
      return "s390";
    case EM_MIPS:
      return "MIPS";
    default:
      return "machine " + std::to_string(machine);
  }
}

std::string ClassName(unsigned char elf_class) {
  if (elf_class == ELFCLASS64) return "64-bit";
  if (elf_class == ELFCLASS32) return "32-bit";
  return "unknown class " + std::to_string(elf_class);
}

// The first bytes of a file that is not ELF, printable, so the operator sees
// what it is ("#!/bin/sh", "PK..." for a zip, an HTML error page).
std::string Quoted(const unsigned char* bytes, size_t size, uint64_t file_size) {
  std::string out = "\"";
  for (size_t i = 0; i < size && i < 16; ++i) {
    const unsigned char c = bytes[i];
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      static const char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out + (file_size > 16 ? "...\"" : "\"");
}

std::string Truncated(const std::string& what, uint64_t end, uint64_t size) {
  return "the file is truncated (an unfinished copy?): " + what + " ends at byte " +
         std::to_string(end) + " but the file has " + std::to_string(size) + " bytes";
}

// True when [offset, offset + length) lies within `size`, without overflow.
bool Within(uint64_t offset, uint64_t length, uint64_t size) {
  return offset <= size && length <= size - offset;
}

// Reads exactly `length` bytes at `offset`; false on a short read or an error.
bool ReadAt(int fd, uint64_t offset, void* out, size_t length) {
  auto* p = static_cast<char*>(out);
  while (length > 0) {
    const ssize_t n = ::pread(fd, p, length, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    offset += static_cast<uint64_t>(n);
    length -= static_cast<size_t>(n);
  }
  return true;
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

bool CheckOpened(int fd, uint64_t size, std::string* reason) {
  if (size == 0) {
    *reason = "the file is empty";
    return false;
  }
  unsigned char ident[EI_NIDENT] = {};
  const size_t head = size < EI_NIDENT ? static_cast<size_t>(size) : EI_NIDENT;
  if (!ReadAt(fd, 0, ident, head)) {
    *reason = std::string("cannot be read: ") + std::strerror(errno);
    return false;
  }
  if (head < SELFMAG || std::memcmp(ident, ELFMAG, SELFMAG) != 0) {
    *reason = "not an ELF file (it starts with " + Quoted(ident, head, size) + ")";
    return false;
  }
  if (head < EI_NIDENT) {
    *reason = Truncated("the ELF identification", EI_NIDENT, size);
    return false;
  }
  if (ident[EI_CLASS] != kClass) {
    *reason = "a " + ClassName(ident[EI_CLASS]) + " ELF file; this engine is " + ClassName(kClass);
    return false;
  }
  if (ident[EI_DATA] != kByteOrder) {
    *reason = std::string(ident[EI_DATA] == ELFDATA2MSB ? "a big-endian" : "a little-endian") +
              " ELF file; this engine is " +
              (kByteOrder == ELFDATA2LSB ? "little-endian" : "big-endian");
    return false;
  }
  if (ident[EI_VERSION] != EV_CURRENT) {
    *reason = "ELF version " + std::to_string(ident[EI_VERSION]) + ", expected " +
              std::to_string(EV_CURRENT);
    return false;
  }
  Ehdr ehdr{};
  if (size < sizeof(ehdr)) {
    *reason = Truncated("the ELF header", sizeof(ehdr), size);
    return false;
  }
  if (!ReadAt(fd, 0, &ehdr, sizeof(ehdr))) {
    *reason = std::string("cannot be read: ") + std::strerror(errno);
    return false;
  }
  if (ehdr.e_machine != kMachine) {
    *reason = "built for " + MachineName(ehdr.e_machine) + "; this engine runs on " +
              MachineName(kMachine);
    return false;
  }
  if (ehdr.e_type != ET_DYN) {
    *reason = ehdr.e_type == ET_EXEC ? "an executable, not a shared library"
              : ehdr.e_type == ET_REL
                  ? "an object file, not a shared library (link it with -shared)"
                  : "ELF type " + std::to_string(ehdr.e_type) + ", not a shared library";
    return false;
  }
  if (ehdr.e_phnum == 0) {
    *reason = "no program headers: not a loadable library";
    return false;
  }
  if (ehdr.e_phentsize != sizeof(Phdr)) {
    *reason = "malformed ELF header: program header size " + std::to_string(ehdr.e_phentsize) +
              ", expected " + std::to_string(sizeof(Phdr));
    return false;
  }
  const uint64_t ph_bytes = uint64_t{ehdr.e_phnum} * sizeof(Phdr);
  if (!Within(ehdr.e_phoff, ph_bytes, size)) {
    *reason = Truncated("the program header table", ehdr.e_phoff + ph_bytes, size);
    return false;
  }
  std::vector<Phdr> phdrs(ehdr.e_phnum);
  if (!ReadAt(fd, ehdr.e_phoff, phdrs.data(), ph_bytes)) {
    *reason = std::string("cannot be read: ") + std::strerror(errno);
    return false;
  }
  int loads = 0;
  bool dynamic = false;
  for (size_t i = 0; i < phdrs.size(); ++i) {
    const Phdr& ph = phdrs[i];
    if (ph.p_type == PT_LOAD) ++loads;
    if (ph.p_type == PT_DYNAMIC) dynamic = true;
    if (!Within(ph.p_offset, ph.p_filesz, size)) {
      *reason =
          Truncated("segment " + std::to_string(i) + (ph.p_type == PT_LOAD ? " (loadable)" : ""),
                    ph.p_offset + ph.p_filesz, size);
      return false;
    }
  }
  if (loads == 0) {
    *reason = "no loadable segment: not a loadable library";
    return false;
  }
  if (!dynamic) {
    *reason = "no dynamic section: not a shared library";
    return false;
  }
  // The section headers are not read by dlopen(), but they are what the linker
  // writes last: a table past the end is the surest sign of a copy cut short.
  if (ehdr.e_shoff != 0 && ehdr.e_shnum != 0) {
    if (ehdr.e_shentsize != sizeof(Shdr)) {
      *reason = "malformed ELF header: section header size " + std::to_string(ehdr.e_shentsize) +
                ", expected " + std::to_string(sizeof(Shdr));
      return false;
    }
    const uint64_t sh_bytes = uint64_t{ehdr.e_shnum} * sizeof(Shdr);
    if (!Within(ehdr.e_shoff, sh_bytes, size)) {
      *reason = Truncated("the section header table", ehdr.e_shoff + sh_bytes, size);
      return false;
    }
    std::vector<Shdr> shdrs(ehdr.e_shnum);
    if (!ReadAt(fd, ehdr.e_shoff, shdrs.data(), sh_bytes)) {
      *reason = std::string("cannot be read: ") + std::strerror(errno);
      return false;
    }
    for (size_t i = 0; i < shdrs.size(); ++i) {
      const Shdr& sh = shdrs[i];
      if (sh.sh_type != SHT_NOBITS && !Within(sh.sh_offset, sh.sh_size, size)) {
        *reason = Truncated("section " + std::to_string(i), sh.sh_offset + sh.sh_size, size);
        return false;
      }
    }
  }
  return true;
}

}  // namespace

bool CheckElfSharedLibrary(const std::string& path, std::string* reason) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    *reason = std::string("cannot be read: ") + std::strerror(errno);
    return false;
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    *reason = std::string("cannot be read: ") + std::strerror(errno);
    return false;
  }
  if (!S_ISREG(st.st_mode)) {
    *reason = "not a regular file";
    return false;
  }
  return CheckOpened(fd.get(), static_cast<uint64_t>(st.st_size), reason);
}

}  // namespace crmsync::engine
