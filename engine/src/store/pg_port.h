// store/pg_port.h: SqlPort on one PostgreSQL connection inside the store's
// transaction, with PostgreSQL's text for every named statement (pg_sql.cpp).
#ifndef CRMSYNC_ENGINE_STORE_PG_PORT_H_
#define CRMSYNC_ENGINE_STORE_PG_PORT_H_

#include <string>
#include <vector>

#include "store/pg_db.h"
#include "queue/sql_port.h"

namespace crmsync::engine {

/// PostgreSQL's text for `statement` ($N parameters).
const char* PgSql(Sql statement);

/// The advisory lock name of an entity (hashed to a lock key).
std::string PgEntityLock(const std::string& kind, const std::string& entity_id);
/// Takes each named transaction lock once, in one global order, so two
/// transactions never wait on each other's locks in a cycle.
void PgLockAll(PgConn& conn, std::vector<std::string> names);

class PgPort : public SqlPort {
 public:
  explicit PgPort(PgConn& conn) : conn_(conn) {}

  SqlRows Query(Sql statement, Args args) override;
  /// A statement of this backend's own (not a rule's), e.g. its lease path.
  SqlRows QueryText(const char* sql, Args args);
  int64_t Run(Sql statement, Args args) override;
  /// The statement ends in RETURNING id.
  int64_t Insert(Sql statement, Args args) override;
  void LockEntity(const std::string& kind, const std::string& entity_id) override;

 private:
  PgResult Exec(const char* sql, Args args);

  PgConn& conn_;
};

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_STORE_PG_PORT_H_
