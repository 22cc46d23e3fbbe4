// redis/redis_conn.h: a small, typed layer over Poco::Redis for the Redis
// queue: an endpoint parsed from a redis:// URL, replies as plain values,
// one connection (with pipelining) and a pool.
//
// Errors throw RedisError (a StoreError), whose message names the server
// (host:port/db, never the password) and the command, never its arguments
// (they may carry payload fields). Thread-safety: a RedisConn belongs to one
// thread at a time (the pool hands it out); RedisPool is thread-safe.
#ifndef CRMSYNC_ENGINE_REDIS_REDIS_CONN_H_
#define CRMSYNC_ENGINE_REDIS_REDIS_CONN_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/conn_pool.h"
#include "store/store_error.h"

namespace Poco::Redis {
class Client;
}

namespace crmsync::engine {

class RedisError : public StoreError {
 public:
  using StoreError::StoreError;
};

/// Where a Redis server is: redis://[[user]:password@]host[:port][/db].
struct RedisEndpoint {
  std::string host;
  int port = 6379;
  std::string user;
  std::string password;
  int db = 0;
  /// "host:port/db", for messages.
  std::string Describe() const;
};

/// Parses a redis:// URL; throws StoreError naming what is wrong (never the
/// password).
RedisEndpoint ParseRedisUrl(const std::string& url);

/// One reply, as Redis sent it.
struct RedisReply {
  enum class Type { kNil, kInteger, kString, kArray, kError };
  Type type = Type::kNil;
  int64_t integer = 0;
  std::string text;  ///< kString and kError.
  std::vector<RedisReply> elements;

  bool nil() const { return type == Type::kNil; }
  bool error() const { return type == Type::kError; }
  /// The integer, or a string holding one; 0 otherwise.
  int64_t AsInt() const;
};

using RedisCommand = std::vector<std::string>;

class RedisConn {
 public:
  /// Connects (AUTH and SELECT when the endpoint has them). Throws RedisError.
  RedisConn(const RedisEndpoint& endpoint, int64_t timeout_ms);
  ~RedisConn();
  RedisConn(const RedisConn&) = delete;
  RedisConn& operator=(const RedisConn&) = delete;

  /// Runs one command; an error reply throws RedisError. `wait_ms` extends the
  /// read timeout for a command that blocks on the server (XREADGROUP BLOCK).
  RedisReply Exec(const RedisCommand& command, int64_t wait_ms = 0);
  /// Sends every command, then reads every reply (one round trip). Error
  /// replies come back as kError elements; a broken connection throws.
  std::vector<RedisReply> Pipeline(const std::vector<RedisCommand>& commands);
  /// False once an I/O error broke the connection.
  bool Healthy() const { return healthy_; }

 private:
  [[noreturn]] void Fail(const std::string& what, const std::string& reason);

  std::string where_;
  int64_t timeout_ms_;
  std::unique_ptr<Poco::Redis::Client> client_;
  bool healthy_ = true;
};

/// At most `size` connections, opened on demand and reused.
class RedisPool : public ConnPool<RedisConn> {
 public:
  RedisPool(const RedisEndpoint& endpoint, int size, int64_t timeout_ms);
  const RedisEndpoint& endpoint() const { return endpoint_; }

 private:
  RedisEndpoint endpoint_;
};

/// A connection from `pool` for one scope; returned (or closed when broken)
/// at its end.
class RedisLease {
 public:
  explicit RedisLease(RedisPool* pool) : pool_(pool), conn_(pool->Acquire()) {}
  ~RedisLease() { pool_->Release(std::move(conn_)); }
  RedisLease(const RedisLease&) = delete;
  RedisLease& operator=(const RedisLease&) = delete;
  RedisConn* operator->() { return conn_.get(); }

 private:
  RedisPool* pool_;
  std::unique_ptr<RedisConn> conn_;
};

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_REDIS_REDIS_CONN_H_
