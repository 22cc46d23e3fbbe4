// The mock CRM's journal file; see crm_journal.h.
#include "crm_journal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>

#include <Poco/JSON/ParseHandler.h>
#include <Poco/JSON/Parser.h>

#include "json_util.h"

namespace crmsync::mockcrm {
namespace {

std::string ErrnoText(int error) { return std::strerror(error); }

// Reads all of `fd` from its current offset into *out; false with errno set.
bool ReadAll(int fd, std::string* out) {
  char buffer[1 << 16];
  for (;;) {
    const ssize_t got = ::read(fd, buffer, sizeof(buffer));
    if (got == 0) return true;
    if (got < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    out->append(buffer, static_cast<size_t>(got));
  }
}

// One journal line as an object, keys in the line's order; nullptr when the
// line is not a JSON object.
Poco::JSON::Object::Ptr ParseLine(const std::string& line) {
  try {
    Poco::JSON::Parser parser(new Poco::JSON::ParseHandler(true));
    Poco::Dynamic::Var parsed = parser.parse(line);
    if (parsed.type() != typeid(Poco::JSON::Object::Ptr)) return nullptr;
    return parsed.extract<Poco::JSON::Object::Ptr>();
  } catch (const std::exception&) {  // Poco::Exception included.
    return nullptr;
  }
}

}  // namespace

CrmJournal::~CrmJournal() { Close(); }

void CrmJournal::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  path_.clear();
}

Status CrmJournal::Open(const std::string& key, const std::string& path, const ApplyFn& apply) {
  const std::string where = key + ": '" + path + "'";
  int fd = -1;
  do {
    fd = ::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    return Status::InvalidConfig(key + ": cannot open '" + path +
                                 "' for appending: " + ErrnoText(errno));
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    return Status::InvalidConfig(key + ": cannot open '" + path +
                                 "' for appending: not a regular file");
  }
  std::string content;
  if (!ReadAll(fd, &content)) {
    const int error = errno;
    ::close(fd);
    return Status::InvalidConfig(key + ": cannot read '" + path + "': " + ErrnoText(error));
  }

  size_t begin = 0;
  int64_t line_number = 0;
  for (size_t newline = content.find('\n'); newline != std::string::npos;
       newline = content.find('\n', begin)) {
    ++line_number;
    const std::string line = content.substr(begin, newline - begin);
    begin = newline + 1;
    Poco::JSON::Object::Ptr entry = ParseLine(line);
    std::string error = entry ? apply(entry) : "not a JSON object";
    if (!error.empty()) {
      ::close(fd);
      return Status::InvalidConfig(where + " line " + std::to_string(line_number) + ": " + error);
    }
  }
  if (begin < content.size() && ::ftruncate(fd, static_cast<off_t>(begin)) != 0) {
    const int error = errno;
    ::close(fd);
    return Status::InvalidConfig(key + ": cannot truncate the torn last line of '" + path +
                                 "': " + ErrnoText(error));
  }
  fd_ = fd;
  path_ = path;
  return Status::Ok();
}

bool CrmJournal::Append(const Poco::JSON::Object::Ptr& entry, std::string* error) {
  if (fd_ < 0) {
    *error = "journal is not open";
    return false;
  }
  std::string line = ToJson(entry);
  line.push_back('\n');
  size_t written = 0;
  while (written < line.size()) {
    const ssize_t done = ::write(fd_, line.data() + written, line.size() - written);
    if (done < 0) {
      if (errno == EINTR) continue;
      *error = "cannot append to '" + path_ + "': " + ErrnoText(errno);
      return false;
    }
    written += static_cast<size_t>(done);
  }
  return true;
}

}  // namespace crmsync::mockcrm
