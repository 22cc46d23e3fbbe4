// store/sqlite_db.h: a thin RAII layer over the sqlite3 C API.
//
// Statements bind parameters only (no SQL is ever built from values). Errors
// throw StoreError with SQLite's message and the statement's purpose; callers
// at component edges turn them into HTTP answers or statuses.
// Thread-safety: a Db and its statements belong to one thread at a time; the
// owner serialises access.
#ifndef CRMSYNC_ENGINE_STORE_SQLITE_DB_H_
#define CRMSYNC_ENGINE_STORE_SQLITE_DB_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "store/store_error.h"

struct sqlite3;
struct sqlite3_stmt;

namespace crmsync::engine {

class Stmt;

/// One open SQLite connection.
class Db {
 public:
  /// Opens (creating when `create`) the database at `path`; `read_only` opens
  /// it for reading only (no checkpoint of its WAL on close). Throws StoreError.
  Db(const std::string& path, bool create, bool read_only = false);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  /// Runs one or more statements without parameters (DDL, PRAGMA, BEGIN...).
  void Exec(const std::string& sql);
  /// Prepares a statement kept for reuse.
  std::unique_ptr<Stmt> Prepare(const std::string& sql);
  /// Rows changed by the last statement.
  int64_t Changes() const;
  int64_t LastInsertRowId() const;
  sqlite3* handle() const { return db_; }
  const std::string& path() const { return path_; }

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
};

/// A prepared statement. Bind indexes start at 1. Reset() before reuse.
class Stmt {
 public:
  Stmt(Db* db, sqlite3_stmt* stmt, std::string sql) : db_(db), stmt_(stmt), sql_(std::move(sql)) {}
  ~Stmt();
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& Bind(int index, int64_t value);
  Stmt& Bind(int index, const std::string& value);
  Stmt& Bind(int index, const std::optional<std::string>& value);
  Stmt& BindNull(int index);
  Stmt& BindText(int index, std::string_view value);
  /// Steps once: true when a row is available, false when done. Throws on error.
  bool Step();
  /// Steps to completion, expecting no rows.
  void Run();
  /// Clears bindings and rewinds.
  void Reset();
  int64_t ColumnInt(int index) const;
  std::string ColumnText(int index) const;
  bool ColumnIsNull(int index) const;
  bool ColumnIsInt(int index) const;
  int ColumnCount() const;
  std::optional<std::string> ColumnOptText(int index) const;

 private:
  Db* db_;
  sqlite3_stmt* stmt_;
  std::string sql_;
};

/// Resets a statement when leaving scope, so an exception never leaves it busy.
class StmtScope {
 public:
  explicit StmtScope(Stmt& stmt) : stmt_(stmt) {}
  ~StmtScope() { stmt_.Reset(); }
  StmtScope(const StmtScope&) = delete;
  StmtScope& operator=(const StmtScope&) = delete;

 private:
  Stmt& stmt_;
};

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_STORE_SQLITE_DB_H_
