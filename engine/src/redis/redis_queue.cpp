// The Redis queue; see redis_queue.h.
#include "redis/redis_queue.h"

#include <algorithm>
#include <set>

#include "common/logging.h"

namespace crmsync::engine {
namespace {

const char kGroup[] = "workers";
const char kConsumerPrefix[] = "engine-";
// Outbox rows relayed per transaction (one Redis pipeline each).
constexpr int kRelayBatch = 500;
// Delayed jobs made ready per ticker pass, and entries claimed per call.
constexpr int kPromoteBatch = 1000;
constexpr int kClaimBatch = 1000;
// How often (clock time) the ticker looks for entries to reclaim.
constexpr int64_t kReclaimEveryMs = 1000;
// The dead stream keeps about this many entries.
const char kDeadMaxLen[] = "100000";

// Removes the members whose score is still due: a member re-added meanwhile
// with a later due time (the job was delayed again) stays.
const char kZremDue[] =
    "local n = 0 "
    "for i = 2, #ARGV do "
    "  local s = redis.call('ZSCORE', KEYS[1], ARGV[i]) "
    "  if s and tonumber(s) <= tonumber(ARGV[1]) then "
    "    n = n + redis.call('ZREM', KEYS[1], ARGV[i]) "
    "  end "
    "end "
    "return n";

// The value of `field` in a flat [field, value, ...] reply, "" when absent.
std::string Field(const RedisReply& fields, const std::string& field) {
  for (size_t i = 0; i + 1 < fields.elements.size(); i += 2) {
    if (fields.elements[i].text == field) return fields.elements[i + 1].text;
  }
  return "";
}

int64_t ToId(const std::string& text) {
  try {
    size_t used = 0;
    int64_t v = std::stoll(text, &used);
    return used == text.size() ? v : 0;
  } catch (const std::exception&) {
    return 0;
  }
}

}  // namespace

RedisQueue::RedisQueue(PgStore* state, RedisQueueOptions options)
    : state_(state), options_(std::move(options)) {
  consumer_ = kConsumerPrefix + std::to_string(state_->owner_id());
  // Whatever the state commits that may have written outbox rows (intake,
  // outcomes, replay, inbound apply, promotion) is relayed at the next chance.
  state_->SetAnnounceListener([this] { dirty_ = true; });
}

RedisQueue::~RedisQueue() { state_->SetAnnounceListener(nullptr); }

std::unique_ptr<RedisQueue> RedisQueue::Open(PgStore* state, const RedisQueueOptions& options) {
  RedisEndpoint endpoint = ParseRedisUrl(options.url);
  if (options.prefix.empty()) throw StoreError("queue.redis_prefix is empty");
  std::unique_ptr<RedisQueue> queue(new RedisQueue(state, options));
  queue->pool_ = std::make_unique<RedisPool>(endpoint, options.pool_size, options.timeout_ms);
  try {
    RedisLease(queue->pool_.get())->Exec({"PING"});
    queue->run_id_ = queue->ServerRunId();
    queue->EnsureGroups();
    queue->Relay();
  } catch (const RedisError& e) {
    throw StoreError(std::string("cannot use the Redis queue: ") + e.what());
  }
  return queue;
}

std::string RedisQueue::ReadyKey(int p) const {
  return options_.prefix + ":ready:" + std::to_string(p);
}

std::string RedisQueue::Describe() const {
  return "queue on redis " + pool_->endpoint().Describe() + " (prefix " + options_.prefix +
         ", consumer " + consumer_ + ")";
}

bool RedisQueue::Check(std::string* why) noexcept {
  try {
    RedisLease(pool_.get())->Exec({"PING"});
    return true;
  } catch (const std::exception& e) {
    if (why) *why = e.what();
    return false;
  }
}

bool RedisQueue::EnsureGroups() {
  std::vector<int> missing;
  {
    RedisLease redis(pool_.get());
    for (int p = 0; p < kPriorityCount; ++p) {
      RedisReply groups = redis->Pipeline({{"XINFO", "GROUPS", ReadyKey(p)}})[0];
      bool found = false;
      for (const RedisReply& g : groups.elements) found = found || Field(g, "name") == kGroup;
      if (!found) missing.push_back(p);  // no stream ("no such key"), or no group
    }
  }
  if (missing.empty()) return false;
  // New to this Redis (first start, or it lost its data): every job that
  // waits in PostgreSQL is announced again (extra entries are harmless), and
  // only then are the groups made, so a failure or crash in between leaves
  // them missing and the next engine to look announces again.
  int64_t n = state_->AnnounceUnfinished();
  RedisLease redis(pool_.get());
  for (int p : missing) {
    std::vector<RedisReply> r =
        redis->Pipeline({{"XGROUP", "CREATE", ReadyKey(p), kGroup, "0", "MKSTREAM"}});
    if (r[0].error() && r[0].text.rfind("BUSYGROUP", 0) != 0) {
      throw RedisError("redis " + pool_->endpoint().Describe() + ": XGROUP CREATE: " + r[0].text);
    }
  }
  ComponentLogger("queue").warning(
      "created the Redis consumer groups under prefix %s; announced %s unfinished job(s)",
      options_.prefix, std::to_string(n));
  return true;
}

std::string RedisQueue::ServerRunId() {
  RedisReply info;
  {
    RedisLease redis(pool_.get());
    info = redis->Exec({"INFO", "server"});
  }
  size_t at = info.text.find("run_id:");
  if (at == std::string::npos) return "";
  size_t end = info.text.find_first_of("\r\n", at);
  return info.text.substr(at + 7, end == std::string::npos ? std::string::npos : end - at - 7);
}

void RedisQueue::WatchServerRestart() {
  std::string run_id = ServerRunId();
  std::string previous;
  {
    std::lock_guard<std::mutex> lock(run_id_mu_);
    previous = run_id_;
    run_id_ = run_id;
  }
  if (previous.empty() || run_id.empty() || previous == run_id) return;
  // Redis restarted: from a snapshot or an append-only file it may have lost
  // the last entries and delayed members while keeping the groups. Announce
  // every waiting job again.
  int64_t n = state_->AnnounceUnfinished();
  ComponentLogger("queue").warning("Redis %s restarted; announced %s unfinished job(s) again",
                                   pool_->endpoint().Describe(), std::to_string(n));
}

void RedisQueue::Send(const std::vector<OutboxRow>& rows) {
  std::vector<RedisCommand> commands;
  commands.reserve(rows.size());
  for (const OutboxRow& row : rows) {
    std::string job = std::to_string(row.job_id);
    std::string entity = row.entity_kind + ":" + row.entity_id;
    if (row.state == "ready") {
      int p = std::clamp(row.priority, 0, kPriorityCount - 1);
      commands.push_back(
          {"XADD", ReadyKey(p), "*", "job", job, "entity", entity, "event", row.event_id});
    } else if (row.state == "delayed") {
      commands.push_back({"ZADD", DelayedKey(), std::to_string(row.due_ms), job});
    } else {
      commands.push_back({"XADD", DeadKey(), "MAXLEN", "~", kDeadMaxLen, "*", "job", job, "entity",
                          entity, "event", row.event_id});
    }
  }
  RedisLease redis(pool_.get());
  std::vector<RedisReply> replies = redis->Pipeline(commands);
  for (size_t i = 0; i < replies.size(); ++i) {
    if (replies[i].error()) {
      throw RedisError("redis " + pool_->endpoint().Describe() + ": " + commands[i][0] + ": " +
                       replies[i].text);
    }
  }
}

void RedisQueue::Relay() {
  dirty_ = false;
  try {
    state_->RelayOutbox(kRelayBatch, [this](const std::vector<OutboxRow>& rows) { Send(rows); });
  } catch (...) {
    dirty_ = true;  // the rows stay in the outbox; the next call tries again
    throw;
  }
}

void RedisQueue::RelayIfDirty() {
  if (dirty_.load()) Relay();
}

std::vector<RedisQueue::Entry> RedisQueue::Read(int max_jobs, bool block) {
  std::vector<Entry> entries;
  auto parse = [&](const RedisReply& reply) {
    // nil, or [[stream, [[id, [field, value, ...]], ...]], ...]
    for (const RedisReply& stream : reply.elements) {
      if (stream.elements.size() < 2) continue;
      int p = 0;
      for (int q = 0; q < kPriorityCount; ++q) {
        if (stream.elements[0].text == ReadyKey(q)) p = q;
      }
      for (const RedisReply& e : stream.elements[1].elements) {
        if (e.elements.empty()) continue;
        Entry entry;
        entry.priority = p;
        entry.id = e.elements[0].text;
        if (e.elements.size() > 1) entry.job_id = ToId(Field(e.elements[1], "job"));
        entries.push_back(std::move(entry));
      }
    }
  };
  RedisLease redis(pool_.get());
  if (!block) {
    for (int p = 0; p < kPriorityCount && static_cast<int>(entries.size()) < max_jobs; ++p) {
      parse(redis->Exec({"XREADGROUP", "GROUP", kGroup, consumer_, "COUNT",
                         std::to_string(max_jobs - static_cast<int>(entries.size())), "STREAMS",
                         ReadyKey(p), ">"}));
    }
  } else {
    RedisCommand read = {"XREADGROUP", "GROUP", kGroup, consumer_, "COUNT", std::to_string(max_jobs),
                         "BLOCK", std::to_string(options_.block_ms), "STREAMS"};
    for (int p = 0; p < kPriorityCount; ++p) read.push_back(ReadyKey(p));
    for (int p = 0; p < kPriorityCount; ++p) read.push_back(">");
    parse(redis->Exec(read, options_.block_ms));
    std::stable_sort(entries.begin(), entries.end(),
                     [](const Entry& a, const Entry& b) { return a.priority < b.priority; });
  }
  return entries;
}

void RedisQueue::Ack(const std::vector<Entry>& entries) {
  if (entries.empty()) return;
  std::vector<RedisCommand> commands;
  for (int p = 0; p < kPriorityCount; ++p) {
    RedisCommand ack = {"XACK", ReadyKey(p), kGroup};
    RedisCommand del = {"XDEL", ReadyKey(p)};
    for (const Entry& e : entries) {
      if (e.priority != p) continue;
      ack.push_back(e.id);
      del.push_back(e.id);
    }
    if (ack.size() == 3) continue;
    commands.push_back(std::move(ack));
    commands.push_back(std::move(del));
  }
  RedisLease(pool_.get())->Pipeline(commands);
}

std::vector<LeasedJob> RedisQueue::Lease(const std::string& plugin, int max_jobs, int64_t now_ms,
                                         int64_t lease_ms) {
  std::vector<LeasedJob> jobs;
  if (max_jobs <= 0) return jobs;
  std::vector<Entry> entries;
  try {
    RelayIfDirty();
    entries = Read(max_jobs, false);
    if (entries.empty() && options_.block_ms > 0) {
      entries = Read(max_jobs, true);
      // COUNT applies per stream: keep max_jobs (highest priority first) and
      // hand the rest back.
      if (static_cast<int>(entries.size()) > max_jobs) {
        std::vector<Entry> extra(entries.begin() + max_jobs, entries.end());
        entries.resize(static_cast<size_t>(max_jobs));
        PutBack(extra);
      }
    }
  } catch (const RedisError& e) {
    // NOGROUP: Redis lost the groups (restarted empty); make them again, and
    // announce what waits, so nothing is stranded.
    if (std::string(e.what()).find("NOGROUP") == std::string::npos) throw;
    EnsureGroups();
    Relay();
    entries = Read(max_jobs, false);
  }
  if (entries.empty()) return jobs;
  std::vector<int64_t> ids;
  for (const Entry& e : entries) {
    if (e.job_id > 0) ids.push_back(e.job_id);
  }
  jobs = state_->LeaseIds(plugin, ids, now_ms, lease_ms);
  std::set<int64_t> leased;
  for (const LeasedJob& job : jobs) leased.insert(job.id);
  std::vector<Entry> stale;
  {
    std::lock_guard<std::mutex> lock(held_mu_);
    for (const Entry& e : entries) {
      if (leased.count(e.job_id) > 0) {
        held_[e.job_id].push_back(e);
      } else {
        stale.push_back(e);
      }
    }
  }
  try {
    Ack(stale);
  } catch (const StoreError& e) {
    // The jobs are leased; the stale entries come back after reclaim_ms and
    // find their jobs no longer ready.
    ComponentLogger("queue").error("acknowledging stale entries failed: %s", std::string(e.what()));
  }
  return jobs;
}

void RedisQueue::PutBack(const std::vector<Entry>& entries) {
  std::vector<RedisCommand> commands;
  for (const Entry& e : entries) {
    commands.push_back({"XADD", ReadyKey(e.priority), "*", "job", std::to_string(e.job_id)});
  }
  if (!commands.empty()) RedisLease(pool_.get())->Pipeline(commands);
  Ack(entries);
}

void RedisQueue::Complete(const std::string& plugin, const std::vector<JobOutcome>& outcomes,
                          int64_t now_ms) {
  // The entries leave held_ whatever happens: when recording fails, the
  // leases expire in PostgreSQL and the entries are reclaimed after
  // reclaim_ms; neither needs them here.
  std::vector<Entry> done;
  {
    std::lock_guard<std::mutex> lock(held_mu_);
    for (const JobOutcome& o : outcomes) {
      auto it = held_.find(o.job_id);
      if (it == held_.end()) continue;
      done.insert(done.end(), it->second.begin(), it->second.end());
      held_.erase(it);
    }
  }
  state_->Complete(plugin, outcomes, now_ms);
  // The outcome is durable; an entry left pending by a failure here is
  // reclaimed later and finds its job no longer ready.
  Ack(done);
}

int64_t RedisQueue::PromoteDelayed(int64_t now_ms) {
  RedisReply due;
  {
    RedisLease redis(pool_.get());
    due = redis->Exec({"ZRANGEBYSCORE", DelayedKey(), "-inf", std::to_string(now_ms), "LIMIT", "0",
                       std::to_string(kPromoteBatch)});
  }
  if (due.elements.empty()) return 0;
  std::vector<int64_t> ids;
  RedisCommand remove = {"EVAL", kZremDue, "1", DelayedKey(), std::to_string(now_ms)};
  for (const RedisReply& member : due.elements) {
    ids.push_back(ToId(member.text));
    remove.push_back(member.text);
  }
  // PostgreSQL first: a job made ready is announced by its outbox row; then
  // the members go. A crash between leaves members whose jobs are no longer
  // delayed: the next pass moves nothing and removes them.
  std::vector<std::pair<int64_t, int64_t>> still_delayed;
  int64_t moved = state_->PromoteIds(ids, now_ms, &still_delayed);
  RedisLease redis(pool_.get());
  // A member whose job is still delayed carries a stale due time (a relayed
  // row sent twice): set PostgreSQL's, so the removal below keeps it.
  if (!still_delayed.empty()) {
    RedisCommand fix = {"ZADD", DelayedKey()};
    for (const auto& [job, due] : still_delayed) {
      fix.push_back(std::to_string(due));
      fix.push_back(std::to_string(job));
    }
    redis->Exec(fix);
  }
  redis->Exec(remove);
  return moved;
}

int64_t RedisQueue::Promote(int64_t now_ms) {
  int64_t last = last_reclaim_ms_.load();
  const bool reclaim_round = now_ms - last >= kReclaimEveryMs || now_ms < last;
  // This engine's own rows whenever there are some; once a second also what a
  // gone engine left in the outbox.
  if (reclaim_round) {
    Relay();
  } else {
    RelayIfDirty();
  }
  int64_t moved = PromoteDelayed(now_ms);
  int64_t reclaimed = state_->ReclaimLeases(now_ms);
  moved += reclaimed;
  if (reclaim_round) {
    last_reclaim_ms_ = now_ms;
    moved += ReclaimEntries();
  }
  RelayIfDirty();
  return moved;
}

int64_t RedisQueue::Readd(int p, const std::vector<RedisReply>& claimed) {
  std::vector<RedisCommand> commands;
  std::vector<Entry> originals;
  for (const RedisReply& e : claimed) {
    if (e.elements.empty()) continue;
    Entry original;
    original.priority = p;
    original.id = e.elements[0].text;
    originals.push_back(original);
    if (e.elements.size() < 2 || e.elements[1].nil()) continue;  // deleted meanwhile
    RedisCommand add = {"XADD", ReadyKey(p), "*"};
    for (const RedisReply& word : e.elements[1].elements) add.push_back(word.text);
    commands.push_back(std::move(add));
  }
  if (!commands.empty()) RedisLease(pool_.get())->Pipeline(commands);
  Ack(originals);
  return static_cast<int64_t>(commands.size());
}

int64_t RedisQueue::ReclaimEntries() {
  WatchServerRestart();
  int64_t readded = 0;
  // The consumers first, then who is alive: an engine takes its liveness lock
  // before it ever reads, so one listed here and alive is in `live`.
  RedisReply consumers_of[kPriorityCount];
  for (int p = 0; p < kPriorityCount; ++p) {
    RedisLease redis(pool_.get());
    consumers_of[p] = redis->Exec({"XINFO", "CONSUMERS", ReadyKey(p), kGroup});
  }
  std::set<int64_t> live = state_->LiveOwners();
  for (int p = 0; p < kPriorityCount; ++p) {
    const std::string key = ReadyKey(p);
    const RedisReply& consumers = consumers_of[p];
    for (const RedisReply& c : consumers.elements) {
      std::string name = Field(c, "name");
      if (name == consumer_ || name.rfind(kConsumerPrefix, 0) != 0) continue;
      int64_t owner = ToId(name.substr(std::string(kConsumerPrefix).size()));
      if (owner <= 0 || live.count(owner) > 0) continue;
      // A gone engine: its entries are re-added at once, then it is forgotten.
      for (;;) {
        RedisReply pending;
        {
          RedisLease redis(pool_.get());
          pending = redis->Exec(
              {"XPENDING", key, kGroup, "-", "+", std::to_string(kClaimBatch), name});
        }
        if (pending.elements.empty()) break;
        RedisCommand claim = {"XCLAIM", key, kGroup, consumer_, "0"};
        for (const RedisReply& entry : pending.elements) {
          if (!entry.elements.empty()) claim.push_back(entry.elements[0].text);
        }
        RedisReply claimed;
        {
          RedisLease redis(pool_.get());
          claimed = redis->Exec(claim);
        }
        // XCLAIM leaves out entries deleted meanwhile; acknowledge those too.
        std::vector<RedisReply> all = claimed.elements;
        std::set<std::string> seen;
        for (const RedisReply& e : all) {
          if (!e.elements.empty()) seen.insert(e.elements[0].text);
        }
        for (size_t i = 5; i < claim.size(); ++i) {
          if (seen.count(claim[i]) == 0) {
            RedisReply gone;
            gone.type = RedisReply::Type::kArray;
            RedisReply id;
            id.type = RedisReply::Type::kString;
            id.text = claim[i];
            gone.elements.push_back(id);
            all.push_back(gone);
          }
        }
        readded += Readd(p, all);
        if (static_cast<int>(pending.elements.size()) < kClaimBatch) break;
      }
      RedisLease(pool_.get())->Exec({"XGROUP", "DELCONSUMER", key, kGroup, name});
      ComponentLogger("queue").warning("took over the Redis entries of gone consumer %s on %s",
                                       name, key);
    }
    // Entries read long ago and never acknowledged, whoever holds them.
    RedisReply idle;
    {
      RedisLease redis(pool_.get());
      idle = redis->Exec({"XAUTOCLAIM", key, kGroup, consumer_,
                          std::to_string(options_.reclaim_ms), "0-0", "COUNT",
                          std::to_string(kClaimBatch)});
    }
    if (idle.elements.size() >= 2) readded += Readd(p, idle.elements[1].elements);
  }
  return readded;
}

int64_t RedisQueue::ReleaseAllLeases() {
  int64_t n = state_->ReleaseAllLeases();
  std::vector<Entry> entries;
  {
    std::lock_guard<std::mutex> lock(held_mu_);
    for (auto& [job, list] : held_) entries.insert(entries.end(), list.begin(), list.end());
    held_.clear();
  }
  Ack(entries);
  Relay();
  return n;
}

int64_t RedisQueue::NextDueMs() {
  RelayIfDirty();  // a retry recorded here is in the delayed set first
  int64_t next = state_->NextLeaseExpiryMs();
  RedisReply first;
  {
    RedisLease redis(pool_.get());
    first = redis->Exec({"ZRANGE", DelayedKey(), "0", "0", "WITHSCORES"});
  }
  if (first.elements.size() >= 2) {
    int64_t due = static_cast<int64_t>(std::stod(first.elements[1].text));
    if (next < 0 || due < next) next = due;
  }
  return next;
}

}  // namespace crmsync::engine
