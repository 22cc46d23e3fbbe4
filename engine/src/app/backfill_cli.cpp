// `crmsync backfill`; see backfill_cli.h.
#include "app/backfill_cli.h"

#include <chrono>
#include <fstream>
#include <memory>
#include <thread>

#include <Poco/Exception.h>
#include <Poco/File.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/Path.h>
#include <Poco/URI.h>

#include "app/commands.h"
#include "app/progress.h"
#include "app/service_client.h"
#include "backfill/backfill_lines.h"
#include "common/hash.h"
#include "common/logging.h"

namespace crmsync::engine {
namespace {

using Poco::JSON::Array;
using Poco::JSON::Object;

constexpr int kRequestTimeoutS = 120;  // a chunk waits for its durable writes
constexpr char kNdjson[] = "application/x-ndjson";
constexpr int kWaitPollMs = 500;
constexpr size_t kShownBadLines = 20;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string Encode(const std::string& value) {
  std::string encoded;
  Poco::URI::encode(value, "&=+?#%/:", encoded);
  return encoded;
}

// Lines of a file: its "\n"s, and a last line without one.
int64_t CountLines(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::vector<char> buffer(1 << 20);
  int64_t lines = 0;
  char last = '\n';
  while (file) {
    file.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    std::streamsize n = file.gcount();
    for (std::streamsize i = 0; i < n; ++i) lines += buffer[static_cast<size_t>(i)] == '\n';
    if (n > 0) last = buffer[static_cast<size_t>(n - 1)];
  }
  return lines + (last != '\n' ? 1 : 0);
}


int64_t IntOf(const Object::Ptr& o, const char* key) {
  if (!o || !o->has(key) || o->isNull(key)) return 0;
  return o->getValue<int64_t>(key);
}

std::string StrOf(const Object::Ptr& o, const char* key) {
  if (!o || !o->has(key) || o->isNull(key)) return "";
  return o->get(key).convert<std::string>();
}

// "line 12: $.lead.email: must be ..." for each bad line of an answer.
std::vector<std::pair<int64_t, std::string>> BadLines(const Object::Ptr& answer) {
  std::vector<std::pair<int64_t, std::string>> lines;
  Array::Ptr invalid = answer ? answer->getArray("invalid") : nullptr;
  for (size_t i = 0; invalid && i < invalid->size(); ++i) {
    Object::Ptr bad = invalid->getObject(static_cast<unsigned>(i));
    if (!bad) continue;
    std::string text = "line " + std::to_string(IntOf(bad, "line"));
    Array::Ptr errors = bad->getArray("errors");
    for (size_t j = 0; errors && j < errors->size(); ++j) {
      Object::Ptr e = errors->getObject(static_cast<unsigned>(j));
      text += (j == 0 ? ": " : "; ") + StrOf(e, "path") + ": " + StrOf(e, "message");
    }
    lines.emplace_back(IntOf(bad, "line"), text);
  }
  return lines;
}

class Backfill {
 public:
  Backfill(const config::Settings& settings, const BackfillOptions& options, std::istream& in,
           std::ostream& out, std::ostream& err)
      : options_(options), in_(in), out_(out), err_(err), client_(settings, kRequestTimeoutS) {}

  int Run();

 private:
  // The command that continues this run.
  std::string ResumeCommand() const {
    return "crmsync backfill " + options_.file + " --run " + run_ +
           (options_.strict ? " --strict" : "") + (options_.wait ? "" : " --no-wait") +
           " (with the same --config/--set)";
  }
  int Fail(const std::string& message) {
    err_ << "\ncrmsync backfill: " << message << "\n";
    if (!run_.empty()) {
      err_ << "crmsync backfill: what was imported is kept; to continue, run: " << ResumeCommand()
           << "\n";
    }
    return kExitProblems;
  }
  // The answer of a failed call, with its status and message.
  int FailAnswer(int status, const Object::Ptr& answer) {
    std::string message = "the service at " + client_.where() + " answered " +
                          std::to_string(status) + ": " + StrOf(answer, "error");
    if (status == 401 && client_.token_empty()) message += " (admin.token is not set)";
    return Fail(message);
  }
  bool OpenInput(std::string* why);
  // Reads the next chunk; false at the end of the input.
  bool ReadChunk(std::string* body, int64_t* lines);
  // Drops the lines before `next` (of the chunk in hand, `*lines` lines from
  // offset_, then of the input); false when the input ends first.
  bool SkipTo(int64_t next, std::string* body, int64_t* lines);
  // The run's nextOffset as the service has it; false when it cannot say.
  bool RunOffset(int64_t* next) {
    int status = 0;
    Object::Ptr answer;
    std::string why;
    if (!client_.Send("GET", "/api/v1/backfill/" + run_, "", kNdjson, &status, &answer, &why) ||
        status != 200) {
      return false;
    }
    *next = IntOf(answer, "nextOffset");
    return true;
  }
  int Wait();
  void Summary(bool waited, const Object::Ptr& queue);

  BackfillOptions options_;
  std::istream& in_;
  std::ostream& out_;
  std::ostream& err_;
  ServiceClient client_;
  std::string run_;
  std::ifstream file_;
  std::istream* input_ = nullptr;
  bool at_end_ = false;
  int64_t total_ = 0;
  int64_t offset_ = 0;
  int64_t start_offset_ = 0;
  int64_t start_ms_ = 0;
  int64_t import_ms_ = 0;  ///< How long the import took (the wait apart).
  Object::Ptr totals_;  ///< The run's figures, from the last answer.
  std::vector<std::pair<int64_t, std::string>> bad_;  ///< This invocation's bad lines.
  int64_t bad_count_ = 0;
};

bool Backfill::OpenInput(std::string* why) {
  if (options_.file == "-") {
    input_ = &in_;
    return true;
  }
  file_.open(options_.file, std::ios::binary);
  if (!file_) {
    *why = "cannot open " + options_.file;
    return false;
  }
  static char buffer[1 << 16];
  file_.rdbuf()->pubsetbuf(buffer, sizeof buffer);
  input_ = &file_;
  return true;
}

bool Backfill::ReadChunk(std::string* body, int64_t* lines) {
  body->clear();
  *lines = 0;
  std::string line;
  while (*lines < kBackfillChunkLines && body->size() < kBackfillChunkBytes) {
    if (!std::getline(*input_, line)) {
      at_end_ = true;
      break;
    }
    // The service names an over-long line; it need not get all of it.
    if (line.size() > kMaxBackfillLineBytes) line.resize(kMaxBackfillLineBytes + 1);
    *body += line;
    *body += '\n';
    ++*lines;
  }
  if (!at_end_ && input_->peek() == std::char_traits<char>::eof()) at_end_ = true;
  return *lines > 0 || at_end_;
}

bool Backfill::SkipTo(int64_t next, std::string* body, int64_t* lines) {
  int64_t drop = next - offset_;
  if (drop <= *lines) {
    size_t at = 0;
    for (int64_t i = 0; i < drop; ++i) at = body->find('\n', at) + 1;
    body->erase(0, at);
    *lines -= drop;
  } else {
    std::string skipped;
    for (int64_t i = *lines; i < drop; ++i) {
      if (!std::getline(*input_, skipped)) return false;
    }
    at_end_ = false;
    ReadChunk(body, lines);
  }
  offset_ = next;
  return true;
}

int Backfill::Run() {
  if (options_.run.empty()) {
    if (options_.file == "-") {
      run_ = "stdin-" + std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                           std::chrono::system_clock::now().time_since_epoch())
                                           .count());
      err_ << "crmsync backfill: reading stdin as run " << run_
           << "; stdin cannot be found again: to resume after an interruption, give --run ID\n";
    } else {
      std::string why;
      run_ = DefaultBackfillRun(options_.file, &why);
      if (run_.empty()) return Fail(why);
    }
  } else if (!ValidBackfillRunId(options_.run)) {
    err_ << "crmsync backfill: --run must be 1-64 characters of A-Z a-z 0-9 _ . -\n";
    return kExitUsage;
  } else {
    run_ = options_.run;
  }
  std::string why;
  if (!OpenInput(&why)) {
    run_.clear();
    return Fail(why);
  }
  if (options_.file != "-") total_ = CountLines(options_.file);

  // Where the run stands: a re-run continues at the service's durable offset.
  int status = 0;
  Object::Ptr answer;
  if (!client_.Send("GET", "/api/v1/backfill/" + run_, "", kNdjson, &status, &answer, &why)) {
    return Fail(why);
  }
  if (status == 200) {
    offset_ = IntOf(answer, "nextOffset");
    totals_ = answer;
    if (offset_ > 0) {
      err_ << "crmsync backfill: run " << run_ << " resumes at line " << GroupThousands(offset_ + 1)
           << " (" << GroupThousands(offset_) << " lines were imported before)\n";
    }
  } else if (status != 404) {
    return FailAnswer(status, answer);
  } else {
    err_ << "crmsync backfill: run " << run_ << (total_ > 0 ? ", " + GroupThousands(total_) + " lines" : "")
         << "\n";
  }
  // Skip what the run imported before.
  std::string skipped;
  for (int64_t i = 0; i < offset_; ++i) {
    if (!std::getline(*input_, skipped)) {
      return Fail("the run's offset is line " + std::to_string(offset_) + " but " +
                  (options_.file == "-" ? std::string("stdin") : options_.file) + " has only " +
                  std::to_string(i) + " lines: is it the same input?");
    }
  }

  start_offset_ = offset_;
  start_ms_ = NowMs();
  ProgressBar bar(err_, "lines", StderrIsTerminal(), NowMs);
  bar.Update(offset_, total_);
  std::string body;
  int64_t lines = 0;
  const std::string base = "/api/v1/backfill?run=" + Encode(run_) + "&source=" +
                           Encode(options_.file == "-" ? "-" : Poco::Path(options_.file).getFileName()) +
                           (options_.strict ? "&strict=true" : "");
  while (!at_end_) {
    ReadChunk(&body, &lines);
    std::string path = base + "&offset=" + std::to_string(offset_);
    if (total_ > 0) path += "&total=" + std::to_string(total_);
    if (at_end_) path += "&final=true";
    if (!client_.Send("POST", path, body, kNdjson, &status, &answer, &why)) return Fail(why);
    int64_t next = 0;
    if (status == 409 && RunOffset(&next) && next > offset_) {
      // The run is ahead of what we asked for: the last chunk of a command
      // killed mid-request was still being imported when we asked where the
      // run stood. Continue from where it is.
      if (!SkipTo(next, &body, &lines)) {
        return Fail("the run's offset is line " + std::to_string(next) +
                    " but the input has fewer lines: is it the same input?");
      }
      path = base + "&offset=" + std::to_string(offset_);
      if (total_ > 0) path += "&total=" + std::to_string(total_);
      if (at_end_) path += "&final=true";
      if (!client_.Send("POST", path, body, kNdjson, &status, &answer, &why)) return Fail(why);
    }
    if (status == 422) {
      bar.Finish(offset_, total_);
      err_ << "crmsync backfill: " << StrOf(answer, "error") << "\n"
           << "crmsync backfill: nothing of lines " << GroupThousands(offset_ + 1) << "-"
           << GroupThousands(offset_ + lines) << " was imported; " << GroupThousands(offset_)
           << " lines before them were. Fix the line and run the command again.\n";
      return kExitProblems;
    }
    if (status != 200) return FailAnswer(status, answer);
    for (auto& bad : BadLines(answer)) {
      ++bad_count_;
      if (bad_.size() < kShownBadLines) {
        if (StderrIsTerminal()) err_ << "\r\x1b[K";
        err_ << "crmsync backfill: skipped " << bad.second << "\n";
        bad_.push_back(std::move(bad));
      }
    }
    offset_ = IntOf(answer, "nextOffset");
    totals_ = answer->getObject("totals");
    bar.Update(offset_, total_);
  }
  bar.Finish(offset_, total_);
  import_ms_ = std::max<int64_t>(1, NowMs() - start_ms_);
  return Wait();
}

int Backfill::Wait() {
  int status = 0;
  Object::Ptr answer;
  std::string why;
  if (!options_.wait) {
    if (!client_.Send("GET", "/api/v1/backfill/" + run_, "", kNdjson, &status, &answer, &why)) {
      return Fail(why);
    }
    if (status != 200) return FailAnswer(status, answer);
    Summary(false, answer->getObject("queue"));
    return bad_count_ > 0 || IntOf(totals_, "invalid") > 0 ? kExitBackfillSkipped : kExitOk;
  }
  // Until no bulk job is left: the CRM then holds every imported record.
  std::unique_ptr<ProgressBar> bar;
  int64_t first_pending = -1;
  while (true) {
    if (!client_.Send("GET", "/api/v1/backfill/" + run_, "", kNdjson, &status, &answer, &why)) {
      return Fail(why + " (while waiting for the jobs; the import itself is done)");
    }
    if (status != 200) return FailAnswer(status, answer);
    Object::Ptr queue = answer->getObject("queue");
    const int64_t pending = IntOf(queue, "bulkReady") + IntOf(queue, "leased") + IntOf(queue, "queued");
    if (queue && queue->optValue<bool>("synced", false)) {
      if (bar) bar->Finish(first_pending, first_pending);
      totals_ = answer;
      Summary(true, queue);
      return IntOf(totals_, "invalid") > 0 ? kExitBackfillSkipped : kExitOk;
    }
    if (first_pending < 0) {
      first_pending = pending;
      err_ << "crmsync backfill: imported; waiting until the CRM has the records (--no-wait "
              "returns at once)\n";
      bar = std::make_unique<ProgressBar>(err_, "jobs synced", StderrIsTerminal(), NowMs);
    }
    first_pending = std::max(first_pending, pending);
    bar->Update(first_pending - pending, first_pending);
    std::this_thread::sleep_for(std::chrono::milliseconds(kWaitPollMs));
  }
}

void Backfill::Summary(bool waited, const Object::Ptr& queue) {
  const int64_t sent = offset_ - start_offset_;
  out_ << "backfill run " << run_ << ": " << GroupThousands(IntOf(totals_, "nextOffset"))
       << " lines";
  if (start_offset_ > 0) {
    out_ << " (" << GroupThousands(sent) << " in this session, resumed at line "
         << GroupThousands(start_offset_ + 1) << ")";
  }
  out_ << ", imported in " << Duration(import_ms_ / 1000) << " ("
       << GroupThousands(sent * 1000 / import_ms_) << " lines/s)";
  if (waited) out_ << ", synced after " << Duration((NowMs() - start_ms_) / 1000);
  out_ << "\n";
  out_ << "  accepted    " << GroupThousands(IntOf(totals_, "accepted"));
  if (IntOf(totals_, "unchanged") > 0) {
    out_ << " (" << GroupThousands(IntOf(totals_, "unchanged"))
         << " unchanged: the mirror held them, as new or newer)";
  }
  out_ << "\n  duplicates  " << GroupThousands(IntOf(totals_, "duplicates"))
       << "\n  invalid     " << GroupThousands(IntOf(totals_, "invalid"));
  Array::Ptr kept = totals_ ? totals_->getArray("invalidLines") : nullptr;
  if (kept && kept->size() > 0) {
    out_ << ": line";
    for (size_t i = 0; i < kept->size(); ++i) {
      out_ << (i == 0 ? " " : ", ") << IntOf(kept->getObject(static_cast<unsigned>(i)), "line");
    }
    if (IntOf(totals_, "invalid") > static_cast<int64_t>(kept->size())) out_ << ", ...";
  }
  out_ << "\n  blank       " << GroupThousands(IntOf(totals_, "blank")) << "\n";
  if (waited) {
    out_ << "synced: no backfill job is left";
    if (IntOf(queue, "delayed") > 0) {
      out_ << "; " << GroupThousands(IntOf(queue, "delayed"))
           << " job(s) wait for a retry (crmsync status, crmsync dlq list)";
    }
    out_ << "\n";
  } else {
    out_ << "not waiting (--no-wait): " << GroupThousands(IntOf(queue, "bulkReady"))
         << " bulk job(s) ready; GET /api/v1/backfill/" << run_ << " shows the run\n";
  }
}

}  // namespace

std::string DefaultBackfillRun(const std::string& path, std::string* why) {
  try {
    Poco::File file(Poco::Path(path).makeAbsolute());
    if (!file.exists() || !file.isFile()) {
      *why = "cannot read " + path + ": no such file";
      return "";
    }
    const std::string key = file.path() + "|" + std::to_string(file.getSize()) + "|" +
                            std::to_string(file.getLastModified().epochMicroseconds());
    return "f-" + StableHash(key);
  } catch (const Poco::Exception& e) {
    *why = "cannot read " + path + ": " + e.displayText();
    return "";
  }
}

int RunBackfill(const config::Settings& settings, const BackfillOptions& options,
                std::istream& in, std::ostream& out, std::ostream& err) {
  return Backfill(settings, options, in, out, err).Run();
}

}  // namespace crmsync::engine
