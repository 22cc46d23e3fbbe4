// store/sqlite_store_mirror.cpp: SqliteStore's MirrorListing, the mirror walked
// by pages in id order with one plugin's links (store/mirror_listing.h).
#include "store/sqlite_store.h"

namespace crmsync::engine {
namespace {

// The primary keys order the pages; the links' primary key finds each link.
const char kSqlListLeads[] =
    "SELECT m.id, m.data, l.external_id FROM leads m LEFT JOIN links l "
    "ON l.plugin = ?1 AND l.entity_kind = 'lead' AND l.entity_id = m.id "
    "WHERE m.id > ?2 ORDER BY m.id LIMIT ?3";
const char kSqlListProperties[] =
    "SELECT m.id, m.data, l.external_id FROM properties m LEFT JOIN links l "
    "ON l.plugin = ?1 AND l.entity_kind = 'property' AND l.entity_id = m.id "
    "WHERE m.id > ?2 ORDER BY m.id LIMIT ?3";
const char kSqlGetLeadEntry[] =
    "SELECT m.id, m.data, l.external_id FROM leads m LEFT JOIN links l "
    "ON l.plugin = ?1 AND l.entity_kind = 'lead' AND l.entity_id = m.id WHERE m.id = ?2";
const char kSqlGetPropertyEntry[] =
    "SELECT m.id, m.data, l.external_id FROM properties m LEFT JOIN links l "
    "ON l.plugin = ?1 AND l.entity_kind = 'property' AND l.entity_id = m.id WHERE m.id = ?2";

const char kSqlCountLeads[] = "SELECT count(*) FROM leads";
const char kSqlCountProperties[] = "SELECT count(*) FROM properties";
// The events' primary key finds a run's ids: they sort between the prefix and
// the prefix with its last ':' raised to ';'.
const char kSqlRunJobs[] =
    "SELECT j.state, count(*) FROM events e JOIN jobs j ON j.id = e.job_id "
    "WHERE e.event_id >= ?1 AND e.event_id < ?2 GROUP BY j.state";

MirrorEntry ReadEntry(const Stmt& stmt) {
  MirrorEntry entry;
  entry.id = stmt.ColumnText(0);
  entry.data = stmt.ColumnText(1);
  if (!stmt.ColumnIsNull(2)) entry.external_id = stmt.ColumnText(2);
  return entry;
}

}  // namespace

std::vector<MirrorEntry> SqliteStore::ListMirror(EntityKind kind, const std::string& plugin,
                                                 const std::string& after_id, int limit) {
  std::vector<MirrorEntry> page;
  std::lock_guard<std::mutex> lock(reader_mu_);
  Stmt& stmt = R(kind == EntityKind::kLead ? kSqlListLeads : kSqlListProperties);
  StmtScope scope(stmt);
  stmt.Bind(1, plugin).Bind(2, after_id).Bind(3, static_cast<int64_t>(limit));
  while (stmt.Step()) page.push_back(ReadEntry(stmt));
  return page;
}

std::optional<MirrorEntry> SqliteStore::GetMirrorEntry(EntityKind kind, const std::string& plugin,
                                                       const std::string& id) {
  std::lock_guard<std::mutex> lock(reader_mu_);
  Stmt& stmt = R(kind == EntityKind::kLead ? kSqlGetLeadEntry : kSqlGetPropertyEntry);
  StmtScope scope(stmt);
  if (!stmt.Bind(1, plugin).Bind(2, id).Step()) return std::nullopt;
  return ReadEntry(stmt);
}

int64_t SqliteStore::CountMirror(EntityKind kind) {
  std::lock_guard<std::mutex> lock(reader_mu_);
  Stmt& stmt = R(kind == EntityKind::kLead ? kSqlCountLeads : kSqlCountProperties);
  StmtScope scope(stmt);
  return stmt.Step() ? stmt.ColumnInt(0) : 0;
}

RunJobCounts SqliteStore::CountRunJobs(const std::string& event_id_prefix) {
  RunJobCounts counts;
  if (event_id_prefix.empty()) return counts;
  std::lock_guard<std::mutex> lock(reader_mu_);
  Stmt& stmt = R(kSqlRunJobs);
  StmtScope scope(stmt);
  stmt.Bind(1, event_id_prefix).Bind(2, PrefixEnd(event_id_prefix));
  while (stmt.Step()) AddRunJobs(stmt.ColumnText(0), stmt.ColumnInt(1), &counts);
  return counts;
}

}  // namespace crmsync::engine
