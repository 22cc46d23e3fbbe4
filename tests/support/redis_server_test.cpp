// The shared test redis-server (redis_server.h): it starts, answers, keeps
// data per prefix, and StopRedis() really takes it away.
#include "redis_server.h"

#include <doctest/doctest.h>

#include <set>
#include <string>

#include <Poco/Net/NetException.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Redis/Array.h>
#include <Poco/Redis/Client.h>
#include <Poco/Redis/Command.h>
#include <Poco/Redis/Type.h>
#include <Poco/Timespan.h>

namespace t = crmsync::testing;

namespace {

int PortOf(const std::string& url) {
  const std::string scheme = "redis://127.0.0.1:";
  REQUIRE_MESSAGE(url.rfind(scheme, 0) == 0, "unexpected Redis URL " << url);
  return std::stoi(url.substr(scheme.size()));
}

bool Refuses(int port) {
  try {
    Poco::Net::StreamSocket socket;
    socket.connect(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(port)),
                   Poco::Timespan(2, 0));
    return false;
  } catch (const Poco::Net::ConnectionRefusedException&) {
    return true;
  }
}

}  // namespace

TEST_CASE("redis server answers PING and keeps keys under a prefix") {
  int port = PortOf(t::RedisUrl());
  CHECK(t::RedisUrl() == "redis://127.0.0.1:" + std::to_string(port));  // one shared server

  Poco::Redis::Client client("127.0.0.1", port);
  Poco::Redis::Array ping;
  ping << "PING";
  CHECK(client.execute<std::string>(ping) == "PONG");

  std::string prefix = t::NewRedisPrefix();
  CHECK(prefix.rfind("t", 0) == 0);
  CHECK(prefix.find('_') != std::string::npos);
  CHECK(client.execute<std::string>(Poco::Redis::Command::set(prefix + ":k", "v1")) == "OK");
  Poco::Redis::BulkString value =
      client.execute<Poco::Redis::BulkString>(Poco::Redis::Command::get(prefix + ":k"));
  REQUIRE_FALSE(value.isNull());
  CHECK(value.value() == "v1");
  client.disconnect();
}

TEST_CASE("redis prefixes are unique within the run") {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) CHECK(seen.insert(t::NewRedisPrefix()).second);
}

TEST_CASE("StopRedis takes the server away and the next RedisUrl starts a new one") {
  int before = PortOf(t::RedisUrl());
  std::string key = t::NewRedisPrefix() + ":k";
  {
    Poco::Redis::Client client("127.0.0.1", before);
    CHECK(client.execute<std::string>(Poco::Redis::Command::set(key, "v")) == "OK");
  }
  t::StopRedis();
  CHECK(Refuses(before));

  int after = PortOf(t::RedisUrl());
  CHECK(after != before);
  Poco::Redis::Client client("127.0.0.1", after);
  Poco::Redis::Array ping;
  ping << "PING";
  CHECK(client.execute<std::string>(ping) == "PONG");
  // Nothing persisted: the new server does not have the old key.
  CHECK(client.execute<Poco::Redis::BulkString>(Poco::Redis::Command::get(key)).isNull());
  client.disconnect();
}
