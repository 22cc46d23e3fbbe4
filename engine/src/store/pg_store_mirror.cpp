// store/pg_store_mirror.cpp: PgStore's MirrorListing, the mirror walked by
// pages in id order with one plugin's links (store/mirror_listing.h).
#include "store/pg_store.h"

#include <string>

namespace crmsync::engine {
namespace {

// The primary keys order the pages (the database's collation, the same for
// every page); the links' primary key finds each link.
const char kSqlListLeads[] =
    "SELECT m.id, m.data, l.external_id FROM leads m LEFT JOIN links l "
    "ON l.plugin = $1 AND l.entity_kind = 'lead' AND l.entity_id = m.id "
    "WHERE m.id > $2 ORDER BY m.id LIMIT $3";
const char kSqlListProperties[] =
    "SELECT m.id, m.data, l.external_id FROM properties m LEFT JOIN links l "
    "ON l.plugin = $1 AND l.entity_kind = 'property' AND l.entity_id = m.id "
    "WHERE m.id > $2 ORDER BY m.id LIMIT $3";
const char kSqlGetLeadEntry[] =
    "SELECT m.id, m.data, l.external_id FROM leads m LEFT JOIN links l "
    "ON l.plugin = $1 AND l.entity_kind = 'lead' AND l.entity_id = m.id WHERE m.id = $2";
const char kSqlGetPropertyEntry[] =
    "SELECT m.id, m.data, l.external_id FROM properties m LEFT JOIN links l "
    "ON l.plugin = $1 AND l.entity_kind = 'property' AND l.entity_id = m.id WHERE m.id = $2";

const char kSqlCountLeads[] = "SELECT count(*) FROM leads";
const char kSqlCountProperties[] = "SELECT count(*) FROM properties";
// A range on the events' primary key, in byte order ("C"): between the prefix
// and the prefix with its last character raised.
const char kSqlRunJobs[] =
    "SELECT j.state, count(*) FROM events e JOIN jobs j ON j.id = e.job_id "
    "WHERE e.event_id COLLATE \"C\" >= $1 AND e.event_id COLLATE \"C\" < $2 GROUP BY j.state";

MirrorEntry ReadEntry(const PgResult& r, int row) {
  MirrorEntry entry;
  entry.id = r.Text(row, 0);
  entry.data = r.Text(row, 1);
  entry.external_id = r.OptText(row, 2);
  return entry;
}

}  // namespace

std::vector<MirrorEntry> PgStore::ListMirror(EntityKind kind, const std::string& plugin,
                                             const std::string& after_id, int limit) {
  std::vector<MirrorEntry> page;
  Tx([&](PgConn& c) {
    page.clear();
    PgResult r = c.Exec(kind == EntityKind::kLead ? kSqlListLeads : kSqlListProperties,
                        PgParams().Add(plugin).Add(after_id).Add(limit));
    for (int i = 0; i < r.Rows(); ++i) page.push_back(ReadEntry(r, i));
  });
  return page;
}

std::optional<MirrorEntry> PgStore::GetMirrorEntry(EntityKind kind, const std::string& plugin,
                                                   const std::string& id) {
  std::optional<MirrorEntry> entry;
  Tx([&](PgConn& c) {
    PgResult r = c.Exec(kind == EntityKind::kLead ? kSqlGetLeadEntry : kSqlGetPropertyEntry,
                        PgParams().Add(plugin).Add(id));
    entry = r.Empty() ? std::nullopt : std::optional<MirrorEntry>(ReadEntry(r, 0));
  });
  return entry;
}

int64_t PgStore::CountMirror(EntityKind kind) {
  int64_t n = 0;
  Tx([&](PgConn& c) {
    PgResult r = c.Exec(kind == EntityKind::kLead ? kSqlCountLeads : kSqlCountProperties,
                        PgParams());
    n = r.Empty() ? 0 : std::stoll(r.Text(0, 0));
  });
  return n;
}

RunJobCounts PgStore::CountRunJobs(const std::string& event_id_prefix) {
  RunJobCounts counts;
  if (event_id_prefix.empty()) return counts;
  Tx([&](PgConn& c) {
    counts = RunJobCounts();
    PgResult r =
        c.Exec(kSqlRunJobs, PgParams().Add(event_id_prefix).Add(PrefixEnd(event_id_prefix)));
    for (int i = 0; i < r.Rows(); ++i) AddRunJobs(r.Text(i, 0), std::stoll(r.Text(i, 1)), &counts);
  });
  return counts;
}

}  // namespace crmsync::engine
