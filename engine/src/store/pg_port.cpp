// store/pg_port.cpp: SqlPort over a PostgreSQL connection.
#include "store/pg_port.h"

#include <algorithm>
#include <string>

namespace crmsync::engine {

namespace {
const char kSqlLock[] = "SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))";
}  // namespace

std::string PgEntityLock(const std::string& kind, const std::string& entity_id) {
  return "crmsync:entity:" + kind + ":" + entity_id;
}

void PgLockAll(PgConn& conn, std::vector<std::string> names) {
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  for (const std::string& name : names) conn.Exec(kSqlLock, PgParams().Add(name));
}

void PgPort::LockEntity(const std::string& kind, const std::string& entity_id) {
  PgLockAll(conn_, {PgEntityLock(kind, entity_id)});
}

PgResult PgPort::Exec(const char* sql, Args args) {
  PgParams params;
  for (const SqlArg& arg : args) {
    if (arg.is_null()) {
      params.AddNull();
    } else if (arg.is_int()) {
      params.Add(arg.as_int());
    } else {
      params.Add(std::string(arg.as_text()));
    }
  }
  return conn_.Exec(sql, params);
}

SqlRows PgPort::Query(Sql statement, Args args) { return QueryText(PgSql(statement), args); }

SqlRows PgPort::QueryText(const char* sql, Args args) {
  PgResult result = Exec(sql, args);
  SqlRows rows;
  const int columns = result.Columns();
  for (int row = 0; row < result.Rows(); ++row) {
    rows.AddRow();
    for (int col = 0; col < columns; ++col) {
      if (result.IsNull(row, col)) {
        rows.AddNull();
      } else {
        rows.AddText(result.Text(row, col));
      }
    }
  }
  return rows;
}

int64_t PgPort::Run(Sql statement, Args args) { return Exec(PgSql(statement), args).Affected(); }

int64_t PgPort::Insert(Sql statement, Args args) { return Exec(PgSql(statement), args).Int(0, 0); }

}  // namespace crmsync::engine
