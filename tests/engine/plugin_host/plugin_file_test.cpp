// Plugin files that are not whole shared libraries for this machine: the real
// mock-crm plugin cut short at many points, an empty file, a text file named
// .so, header-patched copies (32-bit, big-endian, another machine, an object
// file, a segment past the end) and a plugin under another file name. Each is
// refused with a message naming the file and what is wrong, before dlopen()
// (which dies of SIGBUS on a cut file), and a folder scan goes on past it.
#include <doctest/doctest.h>

#include <elf.h>
#include <link.h>
#include <sys/stat.h>

#include <cstring>
#include <map>
#include <memory>
#include <string>

#include "plugin_host/elf_check.h"
#include "plugin_host/plugin_loader.h"
#include "test_support.h"

using crmsync::engine::CheckElfSharedLibrary;
using crmsync::engine::LoadedPlugin;
using crmsync::engine::PluginReport;
using crmsync::engine::ScanPlugins;
namespace t = crmsync::testing;

namespace {

const std::string kMockCrm = std::string(CRMSYNC_PLUGIN_DIR) + "/mock-crm";

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string MockCrmBytes() {
  std::string bytes = t::ReadFile(kMockCrm);
  REQUIRE(bytes.size() > 200 * 1024);
  return bytes;
}

ElfW(Ehdr) HeaderOf(const std::string& bytes) {
  ElfW(Ehdr) ehdr{};
  std::memcpy(&ehdr, bytes.data(), sizeof(ehdr));
  return ehdr;
}

// Writes `bytes` to <dir>/<name> and loads it as serve would (crm.plugin = name).
std::string LoadError(const t::TempDir& dir, const std::string& name, const std::string& bytes) {
  t::WriteFile(dir.File(name), bytes);
  std::string error;
  std::unique_ptr<LoadedPlugin> plugin = LoadedPlugin::Load(dir.path(), name, &error);
  CHECK_MESSAGE(plugin == nullptr, name);
  CHECK(Contains(error, dir.File(name)));
  return error;
}

}  // namespace

TEST_SUITE("engine.plugin_host") {
  TEST_CASE("plugin file: the real mock-crm passes the ELF check") {
    std::string reason;
    CHECK_MESSAGE(CheckElfSharedLibrary(kMockCrm, &reason), reason);
  }

  TEST_CASE("plugin file: mock-crm cut at 100 kB is refused as truncated, not a crash") {
    t::TempDir dir;
    const std::string bytes = MockCrmBytes();
    const std::string error = LoadError(dir, "mock-crm", bytes.substr(0, 100 * 1024));
    CHECK(Contains(error, "cannot load " + dir.File("mock-crm") + " as a shared library"));
    CHECK(Contains(error, "the file is truncated"));
    CHECK(Contains(error, "but the file has 102400 bytes"));
  }

  TEST_CASE("plugin file: cut inside the ELF header and inside the program headers") {
    t::TempDir dir;
    const std::string bytes = MockCrmBytes();
    const ElfW(Ehdr) ehdr = HeaderOf(bytes);
    // Inside the identification, inside the header, half-way through the
    // program header table, just after it.
    std::string error = LoadError(dir, "ident", bytes.substr(0, 10));
    CHECK(Contains(error,
                   "truncated (an unfinished copy?): the ELF identification ends at byte 16 "
                   "but the file has 10 bytes"));
    error = LoadError(dir, "header", bytes.substr(0, 40));
    CHECK(Contains(error, "the ELF header ends at byte " + std::to_string(sizeof(ehdr))));
    const size_t mid_ph = ehdr.e_phoff + ehdr.e_phnum * sizeof(ElfW(Phdr)) / 2;
    error = LoadError(dir, "mid-ph", bytes.substr(0, mid_ph));
    CHECK(Contains(error, "the program header table ends at byte"));
    const size_t after_ph = ehdr.e_phoff + ehdr.e_phnum * sizeof(ElfW(Phdr));
    error = LoadError(dir, "after-ph", bytes.substr(0, after_ph));
    CHECK(Contains(error, "truncated"));
    CHECK(Contains(error, "segment"));
    // Missing only the section header table at the end: still refused.
    error = LoadError(dir, "no-sh", bytes.substr(0, bytes.size() - 1));
    CHECK(Contains(error, "the section header table ends at byte " + std::to_string(bytes.size())));
  }

  TEST_CASE("plugin file: every cut of mock-crm is refused with a reason (64 cut points)") {
    t::TempDir dir;
    const std::string bytes = MockCrmBytes();
    for (int i = 0; i < 64; ++i) {
      const size_t cut = bytes.size() * static_cast<size_t>(i) / 64 + static_cast<size_t>(i);
      CAPTURE(cut);
      std::string error;
      t::WriteFile(dir.File("cut"), bytes.substr(0, cut));
      // LoadFile: no name check, straight to the ELF check and dlopen().
      CHECK(LoadedPlugin::LoadFile(dir.File("cut"), &error) == nullptr);
      CHECK(Contains(error, dir.File("cut")));
      CHECK((Contains(error, "truncated") || Contains(error, "the file is empty")));
    }
  }

  TEST_CASE("plugin file: empty, text and non-regular files are named with the cause") {
    t::TempDir dir;
    std::string error = LoadError(dir, "empty", "");
    CHECK(Contains(error, "as a shared library: the file is empty"));
    error = LoadError(dir, "notes.so", "this is not an ELF file\n");
    CHECK(Contains(error, "not an ELF file (it starts with \"this is not an E...\")"));
    error = LoadError(dir, "binary.so", std::string("\x01\x02PK\x03\x04", 6));
    CHECK(Contains(error, "not an ELF file (it starts with \"\\x01\\x02PK\\x03\\x04\")"));

    std::string reason;
    CHECK_FALSE(CheckElfSharedLibrary(dir.File("absent"), &reason));
    CHECK(reason == "cannot be read: No such file or directory");
    CHECK_FALSE(CheckElfSharedLibrary(dir.path(), &reason));
    CHECK(reason == "not a regular file");
  }

  TEST_CASE("plugin file: header-patched copies of another class, byte order, machine or type") {
    t::TempDir dir;
    const std::string good = MockCrmBytes();
    std::string patched = good;
    patched[EI_CLASS] = ELFCLASS32;
    CHECK(Contains(LoadError(dir, "class32", patched),
                   "as a shared library: a 32-bit ELF file; this engine is 64-bit"));
    patched = good;
    patched[EI_DATA] = ELFDATA2MSB;
    CHECK(Contains(LoadError(dir, "bigendian", patched),
                   "a big-endian ELF file; this engine is little-endian"));
    patched = good;
    patched[EI_VERSION] = 7;
    CHECK(Contains(LoadError(dir, "version", patched), "ELF version 7, expected 1"));

    ElfW(Ehdr) ehdr = HeaderOf(good);
    ehdr.e_machine = EM_AARCH64;
    patched = good;
    std::memcpy(&patched[0], &ehdr, sizeof(ehdr));
    CHECK(Contains(LoadError(dir, "arm64", patched),
                   "built for AArch64 (64-bit ARM); this engine runs on x86-64"));

    ehdr = HeaderOf(good);
    ehdr.e_type = ET_REL;
    patched = good;
    std::memcpy(&patched[0], &ehdr, sizeof(ehdr));
    CHECK(Contains(LoadError(dir, "object", patched), "an object file, not a shared library"));
    ehdr.e_type = ET_EXEC;
    std::memcpy(&patched[0], &ehdr, sizeof(ehdr));
    CHECK(Contains(LoadError(dir, "exec", patched), "an executable, not a shared library"));

    ehdr = HeaderOf(good);
    ehdr.e_phentsize = 12;
    patched = good;
    std::memcpy(&patched[0], &ehdr, sizeof(ehdr));
    CHECK(Contains(LoadError(dir, "phentsize", patched), "program header size 12, expected 56"));
  }

  TEST_CASE("plugin file: a segment whose p_offset + p_filesz passes the end is refused") {
    t::TempDir dir;
    std::string patched = MockCrmBytes();
    const ElfW(Ehdr) ehdr = HeaderOf(patched);
    for (size_t i = 0; i < ehdr.e_phnum; ++i) {
      ElfW(Phdr) ph{};
      char* at = &patched[ehdr.e_phoff + i * sizeof(ph)];
      std::memcpy(&ph, at, sizeof(ph));
      if (ph.p_type != PT_LOAD) continue;
      ph.p_filesz = patched.size() + 4096;  // from its offset, runs past the end
      std::memcpy(at, &ph, sizeof(ph));
      const std::string error = LoadError(dir, "inflated", patched);
      CHECK(Contains(error, "segment " + std::to_string(i) + " (loadable) ends at byte " +
                                std::to_string(ph.p_offset + ph.p_filesz)));
      return;
    }
    FAIL("mock-crm has no PT_LOAD segment");
  }

  TEST_CASE("plugin file: a plugin copied under another name is refused as serve refuses it") {
    t::TempDir dir;
    const std::string bytes = MockCrmBytes();
    t::WriteFile(dir.File("mock-crm"), bytes);
    t::WriteFile(dir.File("my-crm"), bytes);
    std::string error;
    CHECK(LoadedPlugin::Load(dir.path(), "mock-crm", &error) != nullptr);
    CHECK(LoadedPlugin::Load(dir.path(), "my-crm", &error) == nullptr);
    CHECK(Contains(error, "declares plugin name 'mock-crm', not 'my-crm'"));
  }

  TEST_CASE("plugin file: a folder scan names each bad file and goes on to the good one") {
    t::TempDir dir;
    const std::string bytes = MockCrmBytes();
    t::WriteFile(dir.File("a-half-copied"), bytes.substr(0, 100 * 1024));
    t::WriteFile(dir.File("b-empty"), "");
    t::WriteFile(dir.File("c-notes.so"), "plain text\n");
    t::WriteFile(dir.File("d-renamed"), bytes);
    t::WriteFile(dir.File("mock-crm"), bytes);
    std::string error;
    const std::vector<PluginReport> reports = ScanPlugins(dir.path(), &error);
    CHECK(error.empty());
    std::map<std::string, const PluginReport*> by_file;
    for (const PluginReport& r : reports) by_file[r.file.substr(r.file.rfind('/') + 1)] = &r;
    REQUIRE(by_file.size() == 5);
    CHECK(by_file["mock-crm"]->ok);
    CHECK(by_file["mock-crm"]->info.name == "mock-crm");
    for (const char* bad : {"a-half-copied", "b-empty", "c-notes.so", "d-renamed"}) {
      CAPTURE(bad);
      CHECK_FALSE(by_file[bad]->ok);
      CHECK(Contains(by_file[bad]->error, dir.File(bad)));
    }
    CHECK(Contains(by_file["a-half-copied"]->error, "truncated"));
    CHECK(Contains(by_file["b-empty"]->error, "the file is empty"));
    CHECK(Contains(by_file["c-notes.so"]->error, "not an ELF file"));
    CHECK(
        Contains(by_file["d-renamed"]->error, "declares plugin name 'mock-crm', not 'd-renamed'"));
    // The renamed file's descriptor is still read, for the listing.
    CHECK(by_file["d-renamed"]->descriptor.name == "mock-crm");
  }
}
