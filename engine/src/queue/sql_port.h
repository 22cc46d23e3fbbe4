// queue/sql_port.h: the narrow port the queue and sync rules are written over.
//
// A rule (queue/accept.cpp, queue/complete.cpp, ...) runs inside a transaction
// its backend opened, and speaks to the database only through SqlPort: run a
// named statement with parameters, read the rows it returns. Each backend
// (SQLite, PostgreSQL) gives every name its dialect's SQL text, and keeps its
// transactions, group commit and locks to itself: a rule never names a
// backend, so it exists once.
//
// Thread-safety: a SqlPort belongs to the one thread running the transaction.
#ifndef CRMSYNC_ENGINE_QUEUE_SQL_PORT_H_
#define CRMSYNC_ENGINE_QUEUE_SQL_PORT_H_

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace crmsync::engine {

/// Every statement a rule runs (the list each backend's text table follows).
#define CRMSYNC_SQL_STATEMENTS(X) \
  X(FindEvent) \
  X(InsertEvent) \
  X(MirrorLead) \
  X(MirrorProperty) \
  X(UpsertLead) \
  X(UpsertProperty) \
  X(UpsertInquiry) \
  X(LastActiveJob) \
  X(Absorb) \
  X(HasActiveJob) \
  X(InsertJob) \
  X(BumpCounter) \
  X(InsertAudit) \
  X(GetLead) \
  X(GetProperty) \
  X(DeadLetterOpen) \
  X(RequeueCallback) \
  X(MarkReplayed) \
  X(JobForReplay) \
  X(CurrentLease) \
  X(InsertAttempt) \
  X(UpsertLink) \
  X(FinishJob) \
  X(InsertDeadLetter) \
  X(NextQueued) \
  X(MakeReady) \
  X(JobPayload) \
  X(GetSentRecent) \
  X(SetSentRecent) \
  X(LinkByExternal) \
  X(InboundLead) \
  X(InboundProperty) \
  X(InsertChange) \
  X(DeliveryState) \
  X(UnlinkedJobInFlight) \
  X(FinishDelivery) \
  X(GetLink) \
  X(JobsForEntity) \
  X(AuditForEntity) \
  X(ListDeadLetters) \
  X(AttemptsOfJob) \
  X(PurgeDeadLetters) \
  X(PendingDeliveries) \
  X(ChangesAfter) \
  X(LastPendingReceived) \
  X(InsertDelivery) \
  X(FinishCallback) \
  X(LoadPluginState) \
  X(SavePluginState) \
  X(InboundEventKnown) \
  X(InsertInboundEvent) \
  X(MarkInDoubt) \
  X(ForgetLink) \
  X(MarkEntityInDoubt)

/// Defines `const char* Func(Sql)` returning the backend's kSql<Name>
/// constant for each statement; a name without its constant does not compile.
/// (The expanding file includes the StoreError header.)
#define CRMSYNC_SQL_CASE(name) \
  case Sql::k##name:           \
    return kSql##name;
#define CRMSYNC_DEFINE_SQL_TEXTS(Func, backend)                                         \
  const char* Func(Sql statement) {                                                   \
    switch (statement) { CRMSYNC_SQL_STATEMENTS(CRMSYNC_SQL_CASE) }                   \
    throw StoreError(std::string("no ") + backend + " text for statement " +         \
                     std::to_string(static_cast<int>(statement)));                    \
  }

/// Every statement a rule runs. Parameters are numbered from 1 in the order
/// the comment lists them; the columns read are listed after "->".
enum class Sql {
  kFindEvent,         ///< event_id -> job_id
  kInsertEvent,       ///< event_id, job_id (0: none), type, received_ms
  kMirrorLead,        ///< id -> data, field_times, inbound_hash
  kMirrorProperty,    ///< id -> data, field_times, inbound_hash
  kUpsertLead,        ///< id, data, updated_ms, field_times (clears inbound_hash)
  kUpsertProperty,    ///< id, data, updated_ms, field_times (clears inbound_hash)
  kUpsertInquiry,     ///< inquiry id, lead id, data, received_ms
  kLastActiveJob,     ///< kind, entity id -> id, state, coalescable, attempts, step,
                      ///< plan, payload of the entity's newest unfinished job
  kAbsorb,            ///< job id, event_id, event type, payload, priority, now_ms;
                      ///< changes nothing unless the job is still untried
  kHasActiveJob,      ///< kind, entity id -> 1 when a job is unfinished
  kInsertJob,         ///< event_id, type, kind, entity id, priority, state, payload,
                      ///< coalescable, now_ms; Insert() returns the job's id
  kBumpCounter,       ///< name, delta
  kInsertAudit,       ///< at_ms, kind, entity id, job id, action, detail
  kGetLead,           ///< id -> data
  kGetProperty,       ///< id -> data
  kDeadLetterOpen,    ///< dead letter id -> 1 while it is not replayed
  kRequeueCallback,   ///< change seq, now_ms: the callback is due again
  kMarkReplayed,      ///< dead letter id, now_ms, replay job id
  kJobForReplay,      ///< job id -> event_id, event_type, kind, entity id, priority,
                      ///< payload, coalescable
  kCurrentLease,      ///< job id, lease token -> kind, entity id, event_id, event_type
                      ///< while that lease is the job's current one
  kInsertAttempt,     ///< job id, attempt, step, step kind, at_ms, outcome, http status,
                      ///< message
  kUpsertLink,        ///< plugin, kind, entity id, external id (NULL clears), sent hash,
                      ///< now_ms
  kFinishJob,         ///< job id, state, attempts, plan, step, available_ms, last error,
                      ///< now_ms, in doubt (the lease ends)
  kInsertDeadLetter,  ///< job id, plugin, event_id, event_type, kind, entity id,
                      ///< error class, reason, attempts, now_ms
  kNextQueued,        ///< kind, entity id -> id of its oldest queued job
  kMakeReady,         ///< job id, now_ms
  kJobPayload,        ///< job id -> payload
  kGetSentRecent,     ///< plugin, kind, entity id -> what was sent lately (the link's)
  kSetSentRecent,     ///< plugin, kind, entity id, what was sent lately
  kLinkByExternal,    ///< plugin, kind, external id -> entity id
  kInboundLead,       ///< id, data, updated_ms, inbound hash (a CRM write)
  kInboundProperty,   ///< id, data, updated_ms, inbound hash (a CRM write)
  kInsertChange,      ///< at_ms, kind, entity id, delivery id, CRM event, changed fields,
                      ///< entity, callback state; Insert() returns the change's seq
  kDeliveryState,     ///< delivery id -> state
  kUnlinkedJobInFlight,  ///< plugin, kind -> 1 when a job of that kind without a link
                         ///< is leased or tried (a create may be in flight)
  kFinishDelivery,    ///< delivery id, summary, now_ms
  kGetLink,           ///< plugin, kind, entity id -> external id, last sent hash
  kJobsForEntity,     ///< kind, entity id, limit -> id, event_id, event_type, state,
                      ///< attempts, plan, step, available_ms, created_ms, updated_ms,
                      ///< last_error, coalesced; newest first
  kAuditForEntity,    ///< kind, entity id, limit -> id, at_ms, job id, action, detail
  kListDeadLetters,   ///< the filter (id or 0, plugin, error class, kind, entity id,
                      ///< since_ms, until_ms or 0, replayed too 0/1; "" and 0 mean any),
                      ///< limit -> id, job id, plugin, event_id, event_type, kind,
                      ///< entity id, error class, reason, attempts, created_ms,
                      ///< replayed_ms, replay job id; oldest first
  kAttemptsOfJob,     ///< job id -> attempt, step, step kind, at_ms, outcome,
                      ///< http status, message; in order
  kPurgeDeadLetters,  ///< the filter, as for kListDeadLetters
  kPendingDeliveries,  ///< limit -> id, plugin, event, changes, received_ms; oldest first
  kChangesAfter,      ///< seq, limit -> seq, at_ms, kind, entity id, source, delivery id,
                      ///< CRM event, fields, entity; oldest first
  kLastPendingReceived,  ///< -> the latest received_ms of a pending delivery (NULL: none)
  kInsertDelivery,    ///< id, plugin, event, changes, received_ms; nothing when the id is
                      ///< known
  kFinishCallback,    ///< seq, callback state, attempts, next try at_ms, last error
  kLoadPluginState,   ///< plugin, key -> value (base64) a plugin saved
  kSavePluginState,   ///< plugin, key, value (base64), now_ms; replaces an earlier value
  kInboundEventKnown,  ///< plugin, CRM event id -> 1 when a change of it was applied
  kInsertInboundEvent,  ///< plugin, CRM event id, now_ms; nothing when it is known
  kMarkInDoubt,       ///< job id: its create looks the record up first (creates-or-links)
  kForgetLink,        ///< plugin, kind, entity id: drops that plugin's link
  kMarkEntityInDoubt,  ///< kind, entity id: its unfinished jobs look the record up first
};

/// One parameter, borrowed for the call: a number, text, or NULL.
class SqlArg {
 public:
  SqlArg(std::nullptr_t) {}  // NOLINT(runtime/explicit): NULL
  SqlArg(int64_t value) : value_(value) {}  // NOLINT(runtime/explicit)
  SqlArg(int value) : value_(int64_t{value}) {}  // NOLINT(runtime/explicit)
  SqlArg(const std::string& value) : value_(std::string_view(value)) {}  // NOLINT
  SqlArg(const char* value) : value_(std::string_view(value)) {}  // NOLINT(runtime/explicit)
  SqlArg(const std::optional<std::string>& value) {  // NOLINT(runtime/explicit)
    if (value) value_ = std::string_view(*value);
  }

  bool is_null() const { return std::holds_alternative<std::monostate>(value_); }
  bool is_int() const { return std::holds_alternative<int64_t>(value_); }
  int64_t as_int() const { return std::get<int64_t>(value_); }
  std::string_view as_text() const { return std::get<std::string_view>(value_); }
  /// The value as text (a number in decimal); "" for NULL.
  std::string ToText() const;

 private:
  std::variant<std::monostate, int64_t, std::string_view> value_;
};

/// The rows a statement returned, read whole.
class SqlRows {
 public:
  using Cell = std::variant<std::monostate, int64_t, std::string>;

  int Rows() const { return static_cast<int>(rows_.size()); }
  bool Empty() const { return rows_.empty(); }
  bool IsNull(int row, int col) const;
  /// 0 for NULL; text is read as a decimal number.
  int64_t Int(int row, int col) const;
  /// "" for NULL; a number as decimal text.
  std::string Text(int row, int col) const;
  std::optional<std::string> OptText(int row, int col) const;

  /// For backends: starts a row, then adds its cells in column order.
  void AddRow() { rows_.emplace_back(); }
  void AddNull() { rows_.back().emplace_back(std::in_place_index<0>); }
  void AddInt(int64_t value) { rows_.back().emplace_back(std::in_place_index<1>, value); }
  void AddText(std::string value) {
    rows_.back().emplace_back(std::in_place_index<2>, std::move(value));
  }
  /// Adds every row of `more` after these.
  void Append(SqlRows&& more);

 private:
  const Cell& At(int row, int col) const;
  std::vector<std::vector<Cell>> rows_;
};

/// A backend's open transaction, as a rule sees it.
class SqlPort {
 public:
  using Args = std::initializer_list<SqlArg>;
  virtual ~SqlPort() = default;

  /// Runs `statement` and returns every row it produced.
  virtual SqlRows Query(Sql statement, Args args) = 0;
  /// Runs `statement`, expecting no rows; returns the rows it changed.
  virtual int64_t Run(Sql statement, Args args) = 0;
  /// Runs an INSERT and returns the new row's id.
  virtual int64_t Insert(Sql statement, Args args) = 0;
  /// Holds the entity against other writers until the transaction ends (a
  /// backend with one writer has nothing to do).
  virtual void LockEntity(const std::string& kind, const std::string& entity_id) = 0;
};

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_QUEUE_SQL_PORT_H_
