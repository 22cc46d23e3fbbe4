// store/pg_db.h: a thin RAII layer over libpq for the PostgreSQL store: one
// connection, its results, bound text parameters, and a small pool.
//
// Statements bind parameters only (PQexecParams; no SQL is ever built from
// values). Errors throw PgError (a StoreError) carrying the SQLSTATE, so the
// store can retry a transaction that lost a serialization race or a deadlock.
// Thread-safety: a PgConn belongs to one thread at a time (the pool hands it
// out); PgPool is thread-safe.
#ifndef CRMSYNC_ENGINE_STORE_PG_DB_H_
#define CRMSYNC_ENGINE_STORE_PG_DB_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/conn_pool.h"
#include "store/store_error.h"

struct pg_conn;
struct pg_result;

namespace crmsync::engine {

/// A PostgreSQL failure; sqlstate() is the five-character SQLSTATE ("" when the
/// connection itself failed).
class PgError : public StoreError {
 public:
  PgError(const std::string& what, std::string sqlstate)
      : StoreError(what), sqlstate_(std::move(sqlstate)) {}
  const std::string& sqlstate() const { return sqlstate_; }

 private:
  std::string sqlstate_;
};

/// Parameters of one statement, $1 first, sent as text.
class PgParams {
 public:
  PgParams& Add(int64_t value);
  PgParams& Add(int value) { return Add(static_cast<int64_t>(value)); }
  PgParams& Add(const std::string& value);
  PgParams& Add(const char* value) { return Add(std::string(value)); }
  PgParams& Add(const std::optional<std::string>& value);
  PgParams& AddNull();
  const std::vector<std::optional<std::string>>& values() const { return values_; }

 private:
  std::vector<std::optional<std::string>> values_;
};

/// The rows of one statement. Movable, owns its PGresult.
class PgResult {
 public:
  explicit PgResult(pg_result* result) : result_(result) {}
  ~PgResult();
  PgResult(PgResult&& other) noexcept : result_(other.result_) { other.result_ = nullptr; }
  PgResult& operator=(PgResult&&) = delete;
  PgResult(const PgResult&) = delete;
  PgResult& operator=(const PgResult&) = delete;

  int Rows() const;
  int Columns() const;
  bool Empty() const { return Rows() == 0; }
  bool IsNull(int row, int col) const;
  std::string Text(int row, int col) const;
  std::optional<std::string> OptText(int row, int col) const;
  /// 0 for NULL.
  int64_t Int(int row, int col) const;
  /// Rows changed by an INSERT, UPDATE or DELETE.
  int64_t Affected() const;

 private:
  pg_result* result_;
};

/// One open connection.
class PgConn {
 public:
  /// Connects with a libpq conninfo string or postgresql:// URL. Throws PgError.
  explicit PgConn(const std::string& conninfo);
  ~PgConn();
  PgConn(const PgConn&) = delete;
  PgConn& operator=(const PgConn&) = delete;

  /// Runs one statement with bound parameters (prepared on this connection
  /// the first time its text is seen). Throws PgError.
  PgResult Exec(const std::string& sql, const PgParams& params = PgParams());
  /// Runs a script of statements without parameters (DDL, BEGIN, COMMIT).
  void ExecScript(const std::string& sql);
  /// False once the connection is broken.
  bool Healthy() const;
  /// "host=... port=... dbname=... user=..." (never the password).
  std::string Describe() const;

 private:
  pg_conn* conn_ = nullptr;
  /// Statement text -> name of its prepared statement on this connection.
  std::unordered_map<std::string, std::string> prepared_;
};

/// At most `size` connections, opened on demand and reused; `on_connect`,
/// when not empty, is run on every connection opened (session settings).
class PgPool : public ConnPool<PgConn> {
 public:
  PgPool(const std::string& conninfo, int size, const std::string& on_connect = "");
};

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_STORE_PG_DB_H_
