// The test Redis server; see redis_server.h.
#include "redis_server.h"

#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <set>
#include <vector>

#include <Poco/Exception.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Timespan.h>

#include "test_support.h"

namespace crmsync::testing {
namespace {

const char kRedisServer[] = "/usr/bin/redis-server";

// True when a Redis server on 127.0.0.1:`port` answers PING with +PONG.
bool Pings(int port) {
  try {
    Poco::Net::StreamSocket socket;
    socket.connect(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(port)),
                   Poco::Timespan(1, 0));
    socket.setReceiveTimeout(Poco::Timespan(1, 0));
    const std::string ping = "PING\r\n";
    if (socket.sendBytes(ping.data(), static_cast<int>(ping.size())) !=
        static_cast<int>(ping.size())) {
      return false;
    }
    std::string reply;
    char buffer[64];
    while (reply.find("\r\n") == std::string::npos) {
      int n = socket.receiveBytes(buffer, sizeof buffer);
      if (n <= 0) return false;
      reply.append(buffer, static_cast<size_t>(n));
    }
    return reply.rfind("+PONG\r\n", 0) == 0;
  } catch (const Poco::Exception&) {
    return false;
  }
}

class Server {
 public:
  // Starts the server on a port not in `avoid`; "" on success, else why not.
  std::string Start(const std::set<int>& avoid) {
    if (access(kRedisServer, X_OK) != 0) {
      return std::string(kRedisServer) +
             " not found: install Debian's redis-server package "
             "(INSTALL_BROWSER=1 bash scripts/install-deps.sh does; scripts/test.sh sets it)";
    }
    std::string failures;
    for (int attempt = 0; attempt < 5; ++attempt) {
      int port = FreePort();
      if (avoid.count(port) != 0) continue;
      auto child = std::make_unique<ChildProcess>(
          kRedisServer,
          std::vector<std::string>{"--port", std::to_string(port), "--bind", "127.0.0.1",
                                   "--protected-mode", "no", "--save", "", "--appendonly", "no",
                                   "--dir", dir_.path(), "--daemonize", "no"});
      bool exited = false;
      bool up = WaitUntil(
          [&] {
            if (child->WaitExit(std::chrono::milliseconds(0))) {
              exited = true;
              return true;
            }
            return Pings(port);
          },
          std::chrono::seconds(30));
      if (up && !exited) {
        child_ = std::move(child);
        port_ = port;
        return "";
      }
      failures += "redis-server on port " + std::to_string(port) +
                  (exited ? " exited with code " + std::to_string(child->exit_code())
                          : std::string(" did not answer PING within 30s")) +
                  ":\n" + child->Stdout() + child->Stderr() + "\n";
      if (!exited) Stop(*child);
    }
    return "could not start " + std::string(kRedisServer) + ":\n" + failures;
  }

  ~Server() {
    if (child_) Stop(*child_);
  }

  int port() const { return port_; }

 private:
  // SIGTERM, then reap; SIGKILL (by ~ChildProcess) when it will not go.
  static void Stop(ChildProcess& child) {
    child.Signal(SIGTERM);
    child.WaitExit(std::chrono::seconds(10));
  }

  TempDir dir_;
  std::unique_ptr<ChildProcess> child_;
  int port_ = 0;
};

std::mutex g_mu;
std::unique_ptr<Server> g_server;  // stopped by its destructor at exit
std::set<int> g_used_ports;        // a restarted server takes a port not used before
std::atomic<int> g_prefixes{0};

}  // namespace

std::string RedisUrl() {
  std::string error;
  int port = 0;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    if (!g_server) {
      auto server = std::make_unique<Server>();
      error = server->Start(g_used_ports);
      if (error.empty()) {
        g_used_ports.insert(server->port());
        g_server = std::move(server);
      }
    }
    if (g_server) port = g_server->port();
  }
  REQUIRE_MESSAGE(error.empty(), error);
  return "redis://127.0.0.1:" + std::to_string(port);
}

std::string NewRedisPrefix() {
  return "t" + std::to_string(getpid()) + "_" + std::to_string(++g_prefixes);
}

void StopRedis() {
  std::unique_ptr<Server> stopping;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    stopping = std::move(g_server);
  }
  stopping.reset();  // SIGTERM and reap, outside the lock
}

}  // namespace crmsync::testing
