// crm_journal.h: the append-only file behind mock-crm's optional state_file,
// so the in-memory CRM survives a restart of the process that holds it.
//
// Format: one compact JSON object per line, each ending in '\n', one line per
// mutation in the order the CRM applied them (memory_crm.h says what a line
// holds). Appends are plain write(2) calls on an O_APPEND descriptor, with no
// fsync: the journal survives the process being killed (kill -9), because the
// kernel already holds every completed write, but not a crash of the machine.
//
// A process killed in the middle of a write can leave a torn last line: bytes
// after the last '\n'. Open() ignores them and truncates the file back to the
// last complete line, so the next append starts a clean line. Every complete
// line must be a JSON object; one that is not is corruption, not a torn write
// (a torn write never ends in '\n'), and Open() refuses the file.
//
// Thread-safety: none of its own. MemoryCrm calls it under its mutex, so the
// journal's order is the order the mutations were applied.
#ifndef CRMSYNC_PLUGINS_MOCK_CRM_CRM_JOURNAL_H_
#define CRMSYNC_PLUGINS_MOCK_CRM_CRM_JOURNAL_H_

#include <functional>
#include <string>

#include <Poco/JSON/Object.h>

#include "crmsync/status.h"

namespace crmsync::mockcrm {

class CrmJournal {
 public:
  /// Applies one journal entry (keys in the line's order) to the caller's state;
  /// returns "" when applied, else the reason the entry makes no sense.
  using ApplyFn = std::function<std::string(const Poco::JSON::Object::Ptr& entry)>;

  CrmJournal() = default;
  ~CrmJournal();  ///< Closes the file.
  CrmJournal(const CrmJournal&) = delete;
  CrmJournal& operator=(const CrmJournal&) = delete;

  /// Opens `path` for appending (creating it when missing), passes every complete
  /// line to `apply` in file order, drops a torn last line and truncates the file
  /// before it. `key` names the setting in error messages. kInvalidConfig:
  ///   "<key>: cannot open '<path>' for appending: <reason>" (or read/truncate),
  ///   "<key>: '<path>' line <n>: not a JSON object" or ": <apply's reason>".
  /// On error nothing is kept open; entries already applied stay applied.
  /// Must not be called while open.
  Status Open(const std::string& key, const std::string& path, const ApplyFn& apply);

  /// True after a successful Open().
  bool is_open() const { return fd_ >= 0; }

  /// The file's path as given to Open(); "" when closed.
  const std::string& path() const { return path_; }

  /// Appends `entry` as one compact JSON line. False, with *error set, when the
  /// write failed (then the line may be missing or torn).
  bool Append(const Poco::JSON::Object::Ptr& entry, std::string* error);

 private:
  void Close();

  int fd_ = -1;
  std::string path_;
};

}  // namespace crmsync::mockcrm

#endif  // CRMSYNC_PLUGINS_MOCK_CRM_CRM_JOURNAL_H_
