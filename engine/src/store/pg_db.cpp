// The libpq layer of the PostgreSQL store; see pg_db.h.
#include "store/pg_db.h"

#include <libpq-fe.h>

#include <cstdlib>

namespace crmsync::engine {

PgParams& PgParams::Add(int64_t value) {
  values_.emplace_back(std::to_string(value));
  return *this;
}

PgParams& PgParams::Add(const std::string& value) {
  values_.emplace_back(value);
  return *this;
}

PgParams& PgParams::Add(const std::optional<std::string>& value) {
  values_.push_back(value);
  return *this;
}

PgParams& PgParams::AddNull() {
  values_.emplace_back(std::nullopt);
  return *this;
}

PgResult::~PgResult() {
  if (result_) PQclear(result_);
}

int PgResult::Rows() const { return result_ ? PQntuples(result_) : 0; }

int PgResult::Columns() const { return result_ ? PQnfields(result_) : 0; }

bool PgResult::IsNull(int row, int col) const { return PQgetisnull(result_, row, col) != 0; }

std::string PgResult::Text(int row, int col) const {
  if (IsNull(row, col)) return "";
  return std::string(PQgetvalue(result_, row, col),
                     static_cast<size_t>(PQgetlength(result_, row, col)));
}

std::optional<std::string> PgResult::OptText(int row, int col) const {
  if (IsNull(row, col)) return std::nullopt;
  return Text(row, col);
}

int64_t PgResult::Int(int row, int col) const {
  if (IsNull(row, col)) return 0;
  return std::strtoll(PQgetvalue(result_, row, col), nullptr, 10);
}

int64_t PgResult::Affected() const {
  const char* n = result_ ? PQcmdTuples(result_) : "";
  return n && *n ? std::strtoll(n, nullptr, 10) : 0;
}

namespace {

// Quiet: the server's NOTICEs (e.g. "relation already exists") are not ours to log.
void IgnoreNotice(void*, const PGresult*) {}

[[noreturn]] void Throw(pg_conn* conn, PGresult* result, const std::string& what) {
  std::string state;
  std::string message = PQerrorMessage(conn);
  if (result) {
    const char* s = PQresultErrorField(result, PG_DIAG_SQLSTATE);
    if (s) state = s;
    const char* m = PQresultErrorMessage(result);
    if (m && *m) message = m;
    PQclear(result);
  }
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  throw PgError("postgres: " + what + ": " + message, state);
}

}  // namespace

PgConn::PgConn(const std::string& conninfo) {
  // A server that does not answer fails the connection after 10 s instead of
  // hanging /readyz; listed before the expanded conninfo, so the URL's own
  // connect_timeout wins.
  const char* const keywords[] = {"connect_timeout", "dbname", nullptr};
  const char* const values[] = {"10", conninfo.c_str(), nullptr};
  conn_ = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
  if (!conn_ || PQstatus(conn_) != CONNECTION_OK) {
    std::string message = conn_ ? PQerrorMessage(conn_) : "out of memory";
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
      message.pop_back();
    }
    if (conn_) PQfinish(conn_);
    conn_ = nullptr;
    throw PgError("postgres: cannot connect: " + message, "");
  }
  PQsetNoticeReceiver(conn_, IgnoreNotice, nullptr);
}

PgConn::~PgConn() {
  if (conn_) PQfinish(conn_);
}

PgResult PgConn::Exec(const std::string& sql, const PgParams& params) {
  const auto& values = params.values();
  std::vector<const char*> raw(values.size(), nullptr);
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i]) raw[i] = values[i]->c_str();
  }
  // Each statement text is prepared once per connection (parsed and planned
  // once, re-planned by the server when it sees fit), then executed by name:
  // most of the store's cost on the server was planning the same few dozen
  // statements again.
  auto it = prepared_.find(sql);
  if (it == prepared_.end()) {
    std::string name = "crmsync_" + std::to_string(prepared_.size() + 1);
    PGresult* prepared =
        PQprepare(conn_, name.c_str(), sql.c_str(), static_cast<int>(raw.size()), nullptr);
    if (!prepared || PQresultStatus(prepared) != PGRES_COMMAND_OK) {
      Throw(conn_, prepared, sql.substr(0, 80));
    }
    PQclear(prepared);
    it = prepared_.emplace(sql, std::move(name)).first;
  }
  PGresult* result = PQexecPrepared(conn_, it->second.c_str(), static_cast<int>(raw.size()),
                                    raw.data(), nullptr, nullptr, 0);
  ExecStatusType status = result ? PQresultStatus(result) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    Throw(conn_, result, sql.substr(0, 80));
  }
  return PgResult(result);
}

void PgConn::ExecScript(const std::string& sql) {
  PGresult* result = PQexec(conn_, sql.c_str());
  ExecStatusType status = result ? PQresultStatus(result) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    Throw(conn_, result, sql.substr(0, 80));
  }
  PQclear(result);
}

bool PgConn::Healthy() const {
  return conn_ && PQstatus(conn_) == CONNECTION_OK && PQtransactionStatus(conn_) == PQTRANS_IDLE;
}

std::string PgConn::Describe() const {
  std::string host = PQhost(conn_) ? PQhost(conn_) : "";
  std::string port = PQport(conn_) ? PQport(conn_) : "";
  std::string db = PQdb(conn_) ? PQdb(conn_) : "";
  std::string user = PQuser(conn_) ? PQuser(conn_) : "";
  return "host=" + host + " port=" + port + " dbname=" + db + " user=" + user;
}

PgPool::PgPool(const std::string& conninfo, int size, const std::string& on_connect)
    : ConnPool<PgConn>(
          [conninfo, on_connect] {
            auto conn = std::make_unique<PgConn>(conninfo);
            if (!on_connect.empty()) conn->ExecScript(on_connect);
            return conn;
          },
          size) {}

}  // namespace crmsync::engine
