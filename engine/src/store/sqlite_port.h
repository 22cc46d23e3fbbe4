// store/sqlite_port.h: SqlPort on the SQLite writer connection, with SQLite's
// text for every named statement (sqlite_sql.cpp).
//
// Used inside a GroupCommitter transaction, on the committer's thread.
#ifndef CRMSYNC_ENGINE_STORE_SQLITE_PORT_H_
#define CRMSYNC_ENGINE_STORE_SQLITE_PORT_H_

#include <map>
#include <memory>

#include "queue/sql_port.h"
#include "store/sqlite_db.h"

namespace crmsync::engine {

/// SQLite's text for `statement` (?N parameters). The pointer is stable.
const char* SqliteSql(Sql statement);

/// Prepared statements kept for reuse, by their SQL text's address.
using StmtCache = std::map<const char*, std::unique_ptr<Stmt>>;

class SqlitePort : public SqlPort {
 public:
  SqlitePort(Db& db, StmtCache& cache) : db_(db), cache_(cache) {}

  SqlRows Query(Sql statement, Args args) override;
  /// A statement of this backend's own (not a rule's), e.g. its lease path.
  SqlRows QueryText(const char* sql, Args args);
  int64_t Run(Sql statement, Args args) override;
  int64_t Insert(Sql statement, Args args) override;
  /// The committer is the only writer: nothing to lock.
  void LockEntity(const std::string&, const std::string&) override {}

 private:
  Stmt& Bound(const char* sql, Args args);

  Db& db_;
  StmtCache& cache_;
};

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_STORE_SQLITE_PORT_H_
