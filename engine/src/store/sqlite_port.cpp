// store/sqlite_port.cpp: SqlPort over one SQLite connection.
#include "store/sqlite_port.h"

namespace crmsync::engine {

Stmt& SqlitePort::Bound(const char* sql, Args args) {
  std::unique_ptr<Stmt>& slot = cache_[sql];
  if (!slot) slot = db_.Prepare(sql);
  Stmt& stmt = *slot;
  int index = 1;
  for (const SqlArg& arg : args) {
    if (arg.is_null()) {
      stmt.BindNull(index);
    } else if (arg.is_int()) {
      stmt.Bind(index, arg.as_int());
    } else {
      stmt.BindText(index, arg.as_text());
    }
    ++index;
  }
  return stmt;
}

SqlRows SqlitePort::Query(Sql statement, Args args) { return QueryText(SqliteSql(statement), args); }

SqlRows SqlitePort::QueryText(const char* sql, Args args) {
  Stmt& stmt = Bound(sql, args);
  StmtScope scope(stmt);
  SqlRows rows;
  while (stmt.Step()) {
    rows.AddRow();
    const int columns = stmt.ColumnCount();
    for (int col = 0; col < columns; ++col) {
      if (stmt.ColumnIsNull(col)) {
        rows.AddNull();
      } else if (stmt.ColumnIsInt(col)) {
        rows.AddInt(stmt.ColumnInt(col));
      } else {
        rows.AddText(stmt.ColumnText(col));
      }
    }
  }
  return rows;
}

int64_t SqlitePort::Run(Sql statement, Args args) {
  Stmt& stmt = Bound(SqliteSql(statement), args);
  StmtScope scope(stmt);
  stmt.Run();
  return db_.Changes();
}

int64_t SqlitePort::Insert(Sql statement, Args args) {
  Run(statement, args);
  return db_.LastInsertRowId();
}

}  // namespace crmsync::engine
