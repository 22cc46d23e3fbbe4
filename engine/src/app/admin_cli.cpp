// The admin subcommands; see admin_cli.h.
#include "app/admin_cli.h"

#include <algorithm>
#include <cctype>
#include <functional>
#include <map>
#include <sstream>

#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>

#include "app/commands.h"

namespace crmsync::engine {
namespace {

using Poco::JSON::Array;
using Poco::JSON::Object;

constexpr int kTimeoutS = 60;  // a replay of many dead letters takes a while
constexpr size_t kReasonColumn = 60;

// One call to the admin API and how to show its answer.
struct AdminRequest {
  std::string method = "GET";
  std::string path;  ///< With the query string.
  std::string body;
  std::function<void(const Object::Ptr&, std::ostream&)> render;
};

// The command-line filter words and their query parameters.
const std::map<std::string, std::string>& FilterNames() {
  static const std::map<std::string, std::string> kNames = {
      {"plugin", "plugin"},
      {"error-class", "errorClass"},
      {"entity", "entity"},
      {"since", "since"},
      {"until", "until"},
      {"limit", "limit"},
      {"include-replayed", "includeReplayed"}};
  return kNames;
}

bool IsNumber(const std::string& word) {
  return !word.empty() && std::all_of(word.begin(), word.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c));
  });
}

// Turns filter words into a query string ("?plugin=x&entity=lead%3A42", or "").
// False with `*why` on an unknown filter, a missing value or a filter that
// `allow_limit` excludes.
bool FilterQuery(const std::vector<std::string>& words, bool allow_limit, std::string* query,
                 std::string* why) {
  std::map<std::string, std::string> seen;
  query->clear();
  for (const std::string& word : words) {
    size_t eq = word.find('=');
    std::string key = word.substr(0, eq);
    std::string value = eq == std::string::npos ? "" : word.substr(eq + 1);
    auto it = FilterNames().find(key);
    if (it == FilterNames().end()) {
      *why = "unknown filter '" + word +
             "'; filters: plugin= error-class= entity= since= until= limit= include-replayed";
      return false;
    }
    if (key == "include-replayed") {
      if (eq == std::string::npos) value = "true";
    } else if (value.empty()) {
      *why = "filter '" + key + "' needs a value (" + key + "=...)";
      return false;
    }
    if (key == "limit" && !allow_limit) {
      *why = "filter 'limit' does not apply to purge (it removes every match)";
      return false;
    }
    if (!seen.emplace(key, value).second) {
      *why = "filter '" + key + "' is given more than once";
      return false;
    }
    std::string encoded;
    Poco::URI::encode(value, "&=+?#%/:", encoded);
    *query += (query->empty() ? "?" : "&") + it->second + "=" + encoded;
  }
  return true;
}

// --- rendering ---------------------------------------------------------------

std::string Text(const Poco::Dynamic::Var& value) {
  if (value.isEmpty()) return "-";
  if (value.type() == typeid(Object::Ptr) || value.type() == typeid(Array::Ptr)) {
    std::ostringstream out;
    Poco::JSON::Stringifier::stringify(value, out);
    return out.str();
  }
  std::string text = value.convert<std::string>();
  return text.empty() ? "-" : text;
}

// Prints every member as "path.to.key: value", objects flattened.
void PrintFlat(const std::string& prefix, const Object::Ptr& object, std::ostream& out,
               const std::vector<std::string>& skip = {}) {
  for (const std::string& key : object->getNames()) {
    if (std::find(skip.begin(), skip.end(), key) != skip.end()) continue;
    Poco::Dynamic::Var value = object->get(key);
    std::string path = prefix.empty() ? key : prefix + "." + key;
    if (value.type() == typeid(Object::Ptr)) {
      Object::Ptr inner = value.extract<Object::Ptr>();
      if (inner->size() == 0) {
        out << path << ": -\n";
      } else {
        PrintFlat(path, inner, out);
      }
    } else {
      out << path << ": " << Text(value) << "\n";
    }
  }
}

// A plain table: a header row and columns padded to their widest cell.
void PrintTable(const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows, std::ostream& out) {
  std::vector<size_t> width(header.size(), 0);
  for (size_t c = 0; c < header.size(); ++c) width[c] = header[c].size();
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size() && c < width.size(); ++c) {
      width[c] = std::max(width[c], row[c].size());
    }
  }
  auto print_row = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      line += row[c];
      if (c + 1 < row.size()) line += std::string(width[c] - row[c].size() + 2, ' ');
    }
    out << line << "\n";
  };
  print_row(header);
  for (const auto& row : rows) print_row(row);
}

std::string Shorten(const std::string& text, size_t max) {
  std::string flat = text;
  std::replace(flat.begin(), flat.end(), '\n', ' ');
  return flat.size() <= max ? flat : flat.substr(0, max - 3) + "...";
}

void RenderStatus(const Object::Ptr& answer, std::ostream& out) { PrintFlat("", answer, out); }

void RenderSync(const Object::Ptr& answer, std::ostream& out) {
  bool enabled = answer->optValue<bool>("enabled", false);
  out << "sync for " << Text(answer->get("plugin")) << ": " << (enabled ? "enabled" : "disabled")
      << " (" << Text(answer->get("reason")) << ")\n";
}

void RenderJobs(const Object::Ptr& answer, std::ostream& out) {
  out << "entity: " << Text(answer->get("entity")) << "\n";
  out << "mirror: " << (answer->isNull("mirror") ? "none" : Text(answer->get("mirror"))) << "\n";
  Array::Ptr jobs = answer->getArray("jobs");
  if (!jobs || jobs->size() == 0) {
    out << "no jobs\n";
    return;
  }
  std::vector<std::vector<std::string>> rows;
  for (size_t i = 0; i < jobs->size(); ++i) {
    Object::Ptr j = jobs->getObject(static_cast<unsigned>(i));
    if (!j) continue;
    rows.push_back({Text(j->get("id")), Text(j->get("state")), Text(j->get("eventId")),
                    Text(j->get("eventType")), Text(j->get("attempts")), Text(j->get("plan")),
                    Text(j->get("step")), Text(j->get("availableAt")), Text(j->get("coalesced")),
                    Shorten(Text(j->get("lastError")), kReasonColumn)});
  }
  PrintTable({"ID", "STATE", "EVENT", "TYPE", "ATTEMPTS", "PLAN", "STEP", "AVAILABLE", "COALESCED",
              "LAST-ERROR"},
             rows, out);
  out << rows.size() << " job(s)\n";
}

void RenderAudit(const Object::Ptr& answer, std::ostream& out) {
  out << "entity: " << Text(answer->get("entity")) << "\n";
  Array::Ptr audit = answer->getArray("audit");
  if (!audit || audit->size() == 0) {
    out << "no audit entries\n";
    return;
  }
  std::vector<std::vector<std::string>> rows;
  for (size_t i = 0; i < audit->size(); ++i) {
    Object::Ptr a = audit->getObject(static_cast<unsigned>(i));
    if (!a) continue;
    rows.push_back({Text(a->get("at")), Text(a->get("action")), Text(a->get("jobId")),
                    Shorten(Text(a->get("detail")), 100)});
  }
  PrintTable({"AT", "ACTION", "JOB", "DETAIL"}, rows, out);
  out << rows.size() << " entr" << (rows.size() == 1 ? "y" : "ies") << "\n";
}

void RenderDeadLetters(const Object::Ptr& answer, std::ostream& out) {
  Array::Ptr list = answer->getArray("deadLetters");
  if (!list || list->size() == 0) {
    out << "no dead letters\n";
    return;
  }
  std::vector<std::vector<std::string>> rows;
  for (size_t i = 0; i < list->size(); ++i) {
    Object::Ptr d = list->getObject(static_cast<unsigned>(i));
    if (!d) continue;
    std::string replayed = d->isNull("replayJobId") ? "-" : "job " + Text(d->get("replayJobId"));
    rows.push_back({Text(d->get("id")), Text(d->get("entity")), Text(d->get("eventType")),
                    Text(d->get("plugin")), Text(d->get("errorClass")), Text(d->get("attempts")),
                    Text(d->get("createdAt")), replayed,
                    Shorten(Text(d->get("reason")), kReasonColumn)});
  }
  PrintTable({"ID", "ENTITY", "TYPE", "PLUGIN", "ERROR-CLASS", "ATTEMPTS", "CREATED", "REPLAYED",
              "REASON"},
             rows, out);
  out << rows.size() << " dead letter(s)\n";
}

void RenderDeadLetter(const Object::Ptr& answer, std::ostream& out) {
  PrintFlat("", answer, out, {"attempts"});
  Array::Ptr attempts = answer->getArray("attempts");
  if (!attempts || attempts->size() == 0) {
    out << "history: none recorded\n";
    return;
  }
  out << "history:\n";
  std::vector<std::vector<std::string>> rows;
  for (size_t i = 0; i < attempts->size(); ++i) {
    Object::Ptr a = attempts->getObject(static_cast<unsigned>(i));
    if (!a) continue;
    rows.push_back({Text(a->get("attempt")), Text(a->get("step")), Text(a->get("stepKind")),
                    Text(a->get("at")), Text(a->get("outcome")), Text(a->get("httpStatus")),
                    Text(a->get("message"))});
  }
  PrintTable({"ATTEMPT", "STEP", "KIND", "AT", "OUTCOME", "HTTP", "MESSAGE"}, rows, out);
}

void RenderReplayed(const Object::Ptr& answer, std::ostream& out) {
  Array::Ptr list = answer->getArray("replayed");
  size_t n = list ? list->size() : 0;
  if (n == 0) {
    out << "nothing to replay: no open dead letter matches\n";
    return;
  }
  for (size_t i = 0; i < n; ++i) {
    Object::Ptr r = list->getObject(static_cast<unsigned>(i));
    if (!r) continue;
    out << "dead letter " << Text(r->get("deadLetterId")) << " -> job " << Text(r->get("jobId"))
        << "\n";
  }
  out << "replayed " << n << " dead letter(s)\n";
}

void RenderPurged(const Object::Ptr& answer, std::ostream& out) {
  out << "purged " << Text(answer->get("purged")) << " dead letter(s)\n";
}

// Shadow mode's summary (docs/design.md §11): the counts, per step kind, the
// most frequent differences, the sandbox's answers, the latest errors.
void RenderShadow(const Object::Ptr& answer, std::ostream& out) {
  out << "shadow plugin: " << Text(answer->get("plugin")) << "\n"
      << "mapping: " << Text(answer->get("mapping")) << "\n"
      << "sandbox: " << Text(answer->get("sandboxUrl")) << "\n"
      << "since: " << Text(answer->get("since")) << "\n";
  Object::Ptr jobs = answer->getObject("jobs");
  if (jobs) {
    out << "jobs: " << Text(jobs->get("compared")) << " compared, "
        << Text(jobs->get("identical")) << " identical, " << Text(jobs->get("differing"))
        << " differing, " << Text(jobs->get("errors")) << " error(s), "
        << Text(jobs->get("dropped")) << " dropped\n";
  }
  out << "plans differing: " << Text(answer->get("planDiffering")) << "\n";
  if (Object::Ptr steps = answer->getObject("steps"); steps && steps->size() > 0) {
    std::vector<std::vector<std::string>> rows;
    for (const std::string& kind : steps->getNames()) {
      Object::Ptr f = steps->getObject(kind);
      rows.push_back({kind, Text(f->get("compared")), Text(f->get("identical")),
                      Text(f->get("differing"))});
    }
    out << "\n";
    PrintTable({"STEP", "COMPARED", "IDENTICAL", "DIFFERING"}, rows, out);
  }
  Array::Ptr differences = answer->getArray("differences");
  if (differences && differences->size() > 0) {
    std::vector<std::vector<std::string>> rows;
    for (unsigned i = 0; i < differences->size(); ++i) {
      Object::Ptr d = differences->getObject(i);
      rows.push_back({Text(d->get("count")), Text(d->get("step")), Text(d->get("where")),
                      Text(d->get("pointer")), Text(d->get("change"))});
    }
    out << "\n";
    PrintTable({"COUNT", "STEP", "WHERE", "POINTER", "CHANGE"}, rows, out);
  } else {
    out << "\nno differences\n";
  }
  if (Object::Ptr sandbox = answer->getObject("sandbox")) {
    if (!answer->isNull("sandboxUrl")) {
      out << "\nsandbox requests: " << Text(sandbox->get("sent")) << " sent; by status: "
          << Text(sandbox->get("statuses")) << "\n";
    }
  }
  Array::Ptr errors = answer->getArray("errorExamples");
  if (errors && errors->size() > 0) {
    out << "\nlatest errors:\n";
    for (unsigned i = 0; i < errors->size(); ++i) {
      Object::Ptr e = errors->getObject(i);
      out << "  " << Text(e->get("entity")) << " (job " << Text(e->get("jobId"))
          << "): " << Shorten(Text(e->get("message")), 200) << "\n";
    }
  }
  out << "\nexamples (masked): crmsync shadow report json\n";
}

// --- parsing the command line ------------------------------------------------

// Fills `*request` from the words (command first, `json` removed); false with
// `*why` on a usage error.
bool BuildRequest(const std::vector<std::string>& words, AdminRequest* request, std::string* why) {
  const std::string& command = words[0];
  auto extra = [&](size_t from) {
    return std::vector<std::string>(words.begin() + static_cast<long>(from), words.end());
  };
  if (command == "status") {
    if (words.size() > 1) {
      *why = "unexpected word '" + words[1] + "' after 'status'";
      return false;
    }
    request->path = "/api/v1/admin/status";
    request->render = RenderStatus;
    return true;
  }
  if (command == "sync") {
    if (words.size() < 2 || (words[1] != "enable" && words[1] != "disable" &&
                             words[1] != "pause" && words[1] != "resume")) {
      *why = words.size() < 2 ? "sync needs 'enable', 'disable', 'pause' or 'resume'"
                              : "unknown sync subcommand '" + words[1] +
                                    "'; use enable, disable, pause or resume";
      return false;
    }
    std::string reason;
    for (const std::string& word : extra(2)) {
      if (word.rfind("reason=", 0) != 0) {
        *why = "unknown word '" + word + "' after 'sync " + words[1] + "'; only reason=TEXT";
        return false;
      }
      reason = word.substr(7);
    }
    request->method = "POST";
    request->path = "/api/v1/admin/sync/" + words[1];
    Object body;
    if (!reason.empty()) body.set("reason", reason);
    std::ostringstream text;
    body.stringify(text);
    request->body = text.str();
    request->render = RenderSync;
    return true;
  }
  if (command == "jobs" || command == "audit") {
    if (words.size() < 2) {
      *why = command + " needs an entity, like '" + command + " lead:42'";
      return false;
    }
    std::string query = "?entity=";
    std::string encoded;
    Poco::URI::encode(words[1], "&=+?#%/:", encoded);
    query += encoded;
    for (const std::string& word : extra(2)) {
      if (word.rfind("limit=", 0) != 0 || word.size() == 6) {
        *why = "unknown word '" + word + "' after '" + command + " " + words[1] + "'; only limit=N";
        return false;
      }
      std::string limit;
      Poco::URI::encode(word.substr(6), "&=+?#%/:", limit);
      query += "&limit=" + limit;
    }
    request->path = "/api/v1/admin/" + command + query;
    request->render = command == "jobs" ? RenderJobs : RenderAudit;
    return true;
  }
  if (command == "shadow") {
    if (words.size() != 2 || (words[1] != "report" && words[1] != "reset")) {
      *why = words.size() < 2 ? "shadow needs 'report' or 'reset'"
             : words.size() > 2
                 ? "unexpected word '" + words[2] + "' after 'shadow " + words[1] + "'"
                 : "unknown shadow subcommand '" + words[1] + "'; use report or reset";
      return false;
    }
    request->method = words[1] == "reset" ? "DELETE" : "GET";
    request->path = "/api/v1/shadow";
    request->render = RenderShadow;
    return true;
  }
  if (command != "dlq") {
    *why = "unknown command '" + command + "'";
    return false;
  }
  if (words.size() < 2) {
    *why = "dlq needs a subcommand: list, show, replay or purge";
    return false;
  }
  const std::string& sub = words[1];
  std::string query;
  if (sub == "list") {
    if (!FilterQuery(extra(2), true, &query, why)) return false;
    request->path = "/api/v1/admin/dlq" + query;
    request->render = RenderDeadLetters;
    return true;
  }
  if (sub == "show") {
    if (words.size() != 3 || !IsNumber(words[2])) {
      *why = words.size() < 3 ? "dlq show needs a dead letter id"
                              : "dlq show takes one numeric id, got '" + words[2] + "'";
      return false;
    }
    request->path = "/api/v1/admin/dlq/" + words[2];
    request->render = RenderDeadLetter;
    return true;
  }
  if (sub == "replay" || sub == "purge") {
    bool replay = sub == "replay";
    if (words.size() < 3) {
      *why = "dlq " + sub + " needs an id, 'all', or filters (so nothing happens by accident)";
      return false;
    }
    request->method = "POST";
    request->render = replay ? RenderReplayed : RenderPurged;
    if (IsNumber(words[2]) || words[2] == "all") {
      if (words.size() > 3) {
        *why = "unexpected word '" + words[3] + "' after 'dlq " + sub + " " + words[2] + "'";
        return false;
      }
      if (words[2] == "all") {
        request->path = "/api/v1/admin/dlq/" + sub;
      } else if (replay) {
        request->path = "/api/v1/admin/dlq/" + words[2] + "/replay";
      } else {
        request->method = "DELETE";
        request->path = "/api/v1/admin/dlq/" + words[2];
      }
      return true;
    }
    if (!FilterQuery(extra(2), replay, &query, why)) return false;
    request->path = "/api/v1/admin/dlq/" + sub + query;
    return true;
  }
  *why = "unknown dlq subcommand '" + sub + "'; use list, show, replay or purge";
  return false;
}

// The service's {"error": ...} message, or the body itself.
std::string ErrorMessage(const std::string& body) {
  try {
    Poco::Dynamic::Var parsed = Poco::JSON::Parser().parse(body);
    if (parsed.type() == typeid(Object::Ptr)) {
      Object::Ptr object = parsed.extract<Object::Ptr>();
      if (object->has("error")) return Text(object->get("error"));
    }
  } catch (const std::exception&) {
  }
  return body.empty() ? "(no message)" : Shorten(body, 300);
}

}  // namespace

bool IsAdminCommand(const std::string& command) {
  return command == "status" || command == "sync" || command == "jobs" || command == "dlq" ||
         command == "audit" || command == "shadow";
}

const char* AdminCommandsHelp() {
  return "  status         the running service: sync state, queue figures, workers\n"
         "  sync enable|disable [reason=TEXT]\n"
         "                 switch sync to the CRM on or off (kept across restarts)\n"
         "  sync pause|resume [reason=TEXT]\n"
         "                 hold sync on purpose (maintenance): shown as paused, no alert\n"
         "  jobs KIND:ID [limit=N]\n"
         "                 the jobs of one entity (jobs lead:42) and its mirror row\n"
         "  audit KIND:ID [limit=N]\n"
         "                 the audit trail of one entity: syncs, dead letters,\n"
         "                 CRM changes\n"
         "  dlq list [FILTER...]\n"
         "                 dead letters (open ones, unless include-replayed)\n"
         "  dlq show ID    one dead letter with every attempt\n"
         "  dlq replay ID|all|FILTER...\n"
         "                 queue dead letters again, as new jobs\n"
         "  dlq purge ID|all|FILTER...\n"
         "                 delete dead letters\n"
         "  shadow report  shadow mode's summary: jobs compared, differences by\n"
         "                 JSON pointer, sandbox answers (crm.shadow.*)\n"
         "  shadow reset   forget it: a new mapping version starts clean\n"
         "                 FILTER: plugin=NAME error-class=CLASS entity=KIND:ID\n"
         "                 since=ISO8601 until=ISO8601 limit=N include-replayed\n"
         "                 These call the running service (server.host,\n"
         "                 server.port, admin.token); add json for the raw answer.\n";
}

int RunAdminCommand(const config::Settings& settings, const std::vector<std::string>& args,
                    std::ostream& out, std::ostream& err) {
  bool json = false;
  std::vector<std::string> words;
  for (const std::string& arg : args) {
    if (arg == "json") {
      json = true;
    } else {
      words.push_back(arg);
    }
  }
  std::string label = words.empty() ? "crmsync" : "crmsync " + words[0];
  AdminRequest request;
  std::string why;
  if (words.empty() || !BuildRequest(words, &request, &why)) {
    if (words.empty()) why = "no admin command given";
    err << label << ": " << why << "; see crmsync --help\n";
    return kExitUsage;
  }

  std::string host = settings.GetString("server.host");
  if (host == "0.0.0.0" || host.empty()) host = "127.0.0.1";
  if (host == "::") host = "::1";
  auto port = static_cast<Poco::UInt16>(settings.GetInt("server.port"));
  std::string where = host + ":" + std::to_string(port);
  std::string token = settings.GetString("admin.token");

  int status = 0;
  std::string body;
  try {
    Poco::Net::HTTPClientSession session(host, port);
    session.setTimeout(Poco::Timespan(kTimeoutS, 0));
    Poco::Net::HTTPRequest http(request.method, request.path, Poco::Net::HTTPMessage::HTTP_1_1);
    http.set("Authorization", "Bearer " + token);
    if (request.method != "GET") {
      http.setContentType("application/json");
      http.setContentLength(static_cast<std::streamsize>(request.body.size()));
    }
    session.sendRequest(http) << request.body;
    Poco::Net::HTTPResponse response;
    Poco::StreamCopier::copyToString(session.receiveResponse(response), body);
    status = static_cast<int>(response.getStatus());
  } catch (const Poco::Exception& e) {
    err << label << ": cannot reach the service at " << where << ": " << e.displayText() << "\n";
    return kExitProblems;
  }
  if (status < 200 || status > 299) {
    err << label << ": the service at " << where << " answered " << status << ": "
        << ErrorMessage(body) << "\n";
    if (status == 401 && token.empty()) {
      err << label << ": admin.token is not set; set it as the service has it\n";
    }
    return kExitProblems;
  }
  if (json) {
    out << body << "\n";
    return kExitOk;
  }
  Object::Ptr answer;
  try {
    Poco::Dynamic::Var parsed = Poco::JSON::Parser().parse(body);
    if (parsed.type() == typeid(Object::Ptr)) answer = parsed.extract<Object::Ptr>();
  } catch (const std::exception&) {
  }
  if (!answer) {
    err << label << ": the service at " << where << " sent an answer that is not a JSON object\n";
    return kExitProblems;
  }
  request.render(answer, out);
  return kExitOk;
}

}  // namespace crmsync::engine
