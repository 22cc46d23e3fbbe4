// redis/redis_queue.h: the outbound queue on Redis, the state on PostgreSQL
// (queue.backend=redis with store.backend=postgres). RedisQueue is a JobQueue
// and nothing more: the dispatcher leases and completes through it, while
// intake, admin and inbound use the PostgreSQL store directly
// (app/open_store.h pairs the two).
//
// Every job still lives in PostgreSQL (PgStore): its payload, attempts, plan,
// lease token and dead letter, so the admin API, the audit trail and the
// per-entity rules stay in one transactional place. Redis carries the work:
//
//   <prefix>:ready:0..3   streams, one per priority, consumer group "workers";
//                         an entry {job, entity, event} per job that became
//                         ready. Workers XREADGROUP high before medium before
//                         low before bulk; an entry stays pending (the Redis side of the
//                         lease) until the job's outcome is recorded, then it
//                         is XACKed and XDELed.
//   <prefix>:delayed      sorted set of delayed jobs (member job id, score the
//                         due time in ms); the ticker makes due ones ready.
//   <prefix>:dead         stream of dead-lettered jobs (trimmed near 100,000),
//                         for subscribers; the dead letters themselves are in
//                         PostgreSQL, where ops list, replay and purge them.
//
// Intake's mirror write and enqueue stay atomic through a transactional
// outbox: a trigger writes a job_outbox row in the transaction that made the
// job ready, delayed or dead (pg_schema.cpp, migration 6), and the relay moves
// rows to Redis, deleting them in the transaction that read them. A crash
// between the two relays a row twice; an entry is only a hint, so a second
// one costs a lease attempt and nothing else.
//
// Leasing: the jobs named by the entries read are leased in PostgreSQL in one
// UPDATE ... WHERE state = 'ready' (PgStore::LeaseIds). PostgreSQL keeps one
// ready job per entity (the head), so per-entity order and coalescing hold
// across engines exactly as with the PostgreSQL queue; an entry whose job is
// no longer ready (done, leased elsewhere, re-announced) is acknowledged and
// dropped.
//
// Reclaiming: each engine reads as consumer "engine-<lease owner id>". The
// ticker takes over (XCLAIM) the pending entries of consumers whose engine is
// gone (its PostgreSQL liveness lock was released: at once after kill -9),
// re-adds them and deletes the consumer; and re-adds entries idle longer than
// reclaim_ms whoever holds them (XAUTOCLAIM). A leased job of a gone engine
// comes back in PostgreSQL (in doubt) and is announced again.
//
// When Redis loses its data (restart without persistence), the first engine
// that finds a consumer group missing announces every ready and delayed job
// again, then recreates the group. A restart that kept the groups (from a
// snapshot, which may lack the last entries) is noticed by the server's
// run_id changing, and every engine announces again too. Redis must not
// evict keys (maxmemory-policy noeviction, the default).
//
// Sessions: the outbox trigger is switched on per PostgreSQL session, and
// statements are prepared per session, so a pooler in transaction mode
// (pgbouncer pool_mode=transaction) between crmsync and PostgreSQL is not
// supported; session mode is.
//
// Thread-safe.
#ifndef CRMSYNC_ENGINE_REDIS_REDIS_QUEUE_H_
#define CRMSYNC_ENGINE_REDIS_REDIS_QUEUE_H_

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "redis/redis_conn.h"
#include "store/job_queue.h"
#include "store/pg_store.h"

namespace crmsync::engine {

struct RedisQueueOptions {
  /// redis://[[user]:password@]host[:port][/db]
  std::string url;
  /// Prefix of every key; engines that share a queue use the same one.
  std::string prefix = "crmsync";
  /// An entry unacknowledged this long is re-added for any engine to take.
  int64_t reclaim_ms = 30000;
  /// Longest a Lease() waits on Redis for work when none is ready; 0: no wait.
  int64_t block_ms = 200;
  /// Redis connections at most (workers and the ticker each use one at a time).
  int pool_size = 8;
  /// Connect and read timeout of one command.
  int64_t timeout_ms = 5000;
};

class RedisQueue final : public JobQueue {
 public:
  /// Connects to Redis, creates the consumer groups when missing (announcing
  /// every unfinished job then) and relays the outbox. `state` must have been
  /// opened with PgOptions::announce and must outlive the queue; the queue
  /// listens to it (PgStore::SetAnnounceListener) for work to relay. Every
  /// other role (intake, inspection, dead letters, inbound) is the state's.
  /// Throws StoreError naming the server (never the password) and the reason.
  static std::unique_ptr<RedisQueue> Open(PgStore* state, const RedisQueueOptions& options);
  ~RedisQueue() override;

  /// "queue on redis host:port (prefix ..., consumer ...)".
  std::string Describe() const;
  /// Pings Redis; false with `*why` when it does not answer.
  bool Check(std::string* why) noexcept;

  /// Relays this engine's own announcements first (so a job accepted here is
  /// seen at once), then reads entries high priority first and leases their
  /// jobs; waits up to block_ms on Redis when nothing is there.
  std::vector<LeasedJob> Lease(const std::string& plugin, int max_jobs, int64_t now_ms,
                               int64_t lease_ms) override;
  /// Records the outcomes in PostgreSQL, then acknowledges their entries.
  void Complete(const std::string& plugin, const std::vector<JobOutcome>& outcomes,
                int64_t now_ms) override;
  /// Relays this engine's outbox rows, makes due delayed jobs ready, returns
  /// expired and gone leases, and about once a second also relays rows a gone
  /// engine left and reclaims entries of gone consumers and idle entries.
  int64_t Promote(int64_t now_ms) override;
  int64_t ReleaseAllLeases() override;
  int64_t NextDueMs() override;

  /// This engine's consumer name in the groups.
  const std::string& consumer() const { return consumer_; }
  /// The Redis key of the ready stream of priority `p` (0-2), the delayed set
  /// and the dead stream (tests, ops).
  std::string ReadyKey(int p) const;
  std::string DelayedKey() const { return options_.prefix + ":delayed"; }
  std::string DeadKey() const { return options_.prefix + ":dead"; }
  /// Takes over the entries of gone consumers and idle entries, and looks for
  /// a restarted server, now (Promote() does it about once a second); returns
  /// how many entries were re-added.
  int64_t ReclaimEntries();

 private:
  struct Entry {
    int priority = 0;
    std::string id;  ///< Stream entry id.
    int64_t job_id = 0;
  };

  RedisQueue(PgStore* state, RedisQueueOptions options);
  /// Creates missing groups; when one was missing, announces every unfinished
  /// job. Returns whether any was created.
  bool EnsureGroups();
  /// Relays the whole outbox to Redis.
  void Relay();
  void RelayIfDirty();
  void Send(const std::vector<OutboxRow>& rows);
  std::vector<Entry> Read(int max_jobs, bool block);
  /// Adds entries for the jobs of `entries` again and acknowledges these.
  void PutBack(const std::vector<Entry>& entries);
  /// run_id from INFO server ("" when not given).
  std::string ServerRunId();
  /// Announces every unfinished job again when the Redis server restarted
  /// since the last look (it may have come back without the latest entries).
  void WatchServerRestart();
  void Ack(const std::vector<Entry>& entries);
  int64_t PromoteDelayed(int64_t now_ms);
  /// Re-adds claimed entries (each [id, [field, value, ...]]) to stream `p`
  /// and acknowledges the originals; returns how many were re-added.
  int64_t Readd(int p, const std::vector<RedisReply>& claimed);

  PgStore* state_;
  RedisQueueOptions options_;
  std::unique_ptr<RedisPool> pool_;
  std::string consumer_;
  std::atomic<bool> dirty_{true};
  std::atomic<int64_t> last_reclaim_ms_{0};
  std::mutex run_id_mu_;
  std::string run_id_;  ///< The Redis server's run_id when last looked at.
  std::mutex held_mu_;
  /// Entries read for the jobs this engine holds leased, by job id.
  std::map<int64_t, std::vector<Entry>> held_;
};

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_REDIS_REDIS_QUEUE_H_
