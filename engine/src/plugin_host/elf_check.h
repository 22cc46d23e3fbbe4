// plugin_host/elf_check.h: checks that a file is a whole ELF shared library
// for this machine before it is handed to dlopen().
//
// dlopen() maps a library's segments straight from the file: a file cut short
// (a copy still in progress, a full disk) maps pages past its end, and the
// first touch of them kills the whole process with SIGBUS, with no message and
// no chance to go on to the next file. So the loader reads the headers itself
// first: the ELF magic, class, byte order, type and machine must be the
// engine's, and the program header table, every segment (p_offset + p_filesz)
// and the section header table must lie inside the file. A refusal names what
// is wrong. (The file could still change between this check and dlopen(); a
// plugin folder is written by the operator, not raced by an attacker.)
//
// Stateless; thread-safe.
#ifndef CRMSYNC_ENGINE_PLUGIN_HOST_ELF_CHECK_H_
#define CRMSYNC_ENGINE_PLUGIN_HOST_ELF_CHECK_H_

#include <string>

namespace crmsync::engine {

/// True when `path` is a readable ELF shared object of this engine's class,
/// byte order and machine whose headers and segments all lie within the file.
/// Otherwise false with `*reason` saying what is wrong (without the path):
/// "the file is empty", "not an ELF file (it starts with \"hello\")",
/// "the file is truncated: segment 2 ends at byte 1843200, the file has 102400", ...
bool CheckElfSharedLibrary(const std::string& path, std::string* reason);

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_PLUGIN_HOST_ELF_CHECK_H_
