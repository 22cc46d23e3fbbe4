// redis_server.h: a real Redis server for tests (Debian's redis-server), started
// on 127.0.0.1 on a free port in a temp folder on first use, without
// persistence, and stopped (SIGTERM, then reaped) when the process exits.
// Test cases share the one server and keep apart by key prefix.
//
// A missing /usr/bin/redis-server fails the test with a message naming the
// package. Thread-safe.
#ifndef CRMSYNC_TESTS_REDIS_SERVER_H_
#define CRMSYNC_TESTS_REDIS_SERVER_H_

#include <string>

namespace crmsync::testing {

/// "redis://127.0.0.1:<port>" of the shared test server (started when needed).
/// Fails the current test (REQUIRE) when no server can run.
std::string RedisUrl();

/// A key prefix no other test case in this run uses ("t<pid>_<n>"), so cases
/// share one server.
std::string NewRedisPrefix();

/// Stops the shared server now (tests of "Redis went away"); the next
/// RedisUrl() starts a new one on a new port.
void StopRedis();

}  // namespace crmsync::testing

#endif  // CRMSYNC_TESTS_REDIS_SERVER_H_
