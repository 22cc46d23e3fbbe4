// The Redis connection layer; see redis_conn.h.
#include "redis/redis_conn.h"

#include <Poco/Exception.h>
#include <Poco/NumberParser.h>
#include <Poco/Redis/Array.h>
#include <Poco/Redis/Client.h>
#include <Poco/Redis/Error.h>
#include <Poco/Redis/Type.h>
#include <Poco/Timespan.h>
#include <Poco/URI.h>

namespace crmsync::engine {
namespace {

using Poco::Redis::RedisType;

Poco::Timespan Millis(int64_t ms) { return Poco::Timespan(ms * 1000); }

RedisReply Convert(const RedisType::Ptr& value);

RedisReply ConvertArray(const Poco::Redis::Array& array) {
  RedisReply reply;
  if (array.isNull()) return reply;
  reply.type = RedisReply::Type::kArray;
  for (const RedisType::Ptr& element : array) reply.elements.push_back(Convert(element));
  return reply;
}

RedisReply Convert(const RedisType::Ptr& value) {
  RedisReply reply;
  if (value.isNull()) return reply;
  switch (value->type()) {
    case RedisType::REDIS_INTEGER:
      reply.type = RedisReply::Type::kInteger;
      reply.integer = dynamic_cast<const Poco::Redis::Type<Poco::Int64>&>(*value).value();
      break;
    case RedisType::REDIS_SIMPLE_STRING:
      reply.type = RedisReply::Type::kString;
      reply.text = dynamic_cast<const Poco::Redis::Type<std::string>&>(*value).value();
      break;
    case RedisType::REDIS_BULK_STRING: {
      const auto& bulk = dynamic_cast<const Poco::Redis::Type<Poco::Redis::BulkString>&>(*value).value();
      if (!bulk.isNull()) {
        reply.type = RedisReply::Type::kString;
        reply.text = bulk.value();
      }
      break;
    }
    case RedisType::REDIS_ARRAY:
      return ConvertArray(dynamic_cast<const Poco::Redis::Type<Poco::Redis::Array>&>(*value).value());
    case RedisType::REDIS_ERROR:
      reply.type = RedisReply::Type::kError;
      reply.text = dynamic_cast<const Poco::Redis::Type<Poco::Redis::Error>&>(*value).value().getMessage();
      break;
    default:
      break;
  }
  return reply;
}

Poco::Redis::Array ToArray(const RedisCommand& command) {
  Poco::Redis::Array array;
  for (const std::string& word : command) array.add(word);
  return array;
}

}  // namespace

std::string RedisEndpoint::Describe() const {
  return host + ":" + std::to_string(port) + "/" + std::to_string(db);
}

RedisEndpoint ParseRedisUrl(const std::string& url) {
  if (url.empty()) throw StoreError("queue.redis_url is empty (queue.backend=redis)");
  Poco::URI uri;
  try {
    uri = Poco::URI(url);
  } catch (const Poco::Exception&) {
    throw StoreError("queue.redis_url is not a URL (expected redis://host:port)");
  }
  if (uri.getScheme() == "rediss") {
    throw StoreError("queue.redis_url: TLS to Redis (rediss://) is not supported; use redis:// "
                     "on a private network or through a TLS tunnel");
  }
  if (uri.getScheme() != "redis") {
    throw StoreError("queue.redis_url must start with redis:// (got scheme '" + uri.getScheme() +
                     "')");
  }
  RedisEndpoint endpoint;
  endpoint.host = uri.getHost();
  if (endpoint.host.empty()) throw StoreError("queue.redis_url has no host");
  endpoint.port = uri.getPort() == 0 ? 6379 : uri.getPort();
  const std::string& info = uri.getUserInfo();
  size_t colon = info.find(':');
  if (colon == std::string::npos) {
    endpoint.password = info;  // redis://secret@host: the password alone
  } else {
    endpoint.user = info.substr(0, colon);
    endpoint.password = info.substr(colon + 1);
  }
  std::string path = uri.getPath();
  if (!path.empty() && path != "/") {
    int db = 0;
    if (!Poco::NumberParser::tryParse(path.substr(1), db) || db < 0) {
      // Not echoed: with an unescaped '/' in the password, the path holds part of it.
      throw StoreError("queue.redis_url: the path must be a database number (/0 .. /15); a "
                       "password with '/', '?', '#' or '@' must be percent-encoded");
    }
    endpoint.db = db;
  }
  return endpoint;
}

int64_t RedisReply::AsInt() const {
  if (type == Type::kInteger) return integer;
  if (type == Type::kString) {
    Poco::Int64 value = 0;
    if (Poco::NumberParser::tryParse64(text, value)) return value;
  }
  return 0;
}

RedisConn::RedisConn(const RedisEndpoint& endpoint, int64_t timeout_ms)
    : where_("redis " + endpoint.Describe()),
      timeout_ms_(timeout_ms),
      client_(std::make_unique<Poco::Redis::Client>()) {
  try {
    client_->connect(endpoint.host, endpoint.port, Millis(timeout_ms));
    client_->setReceiveTimeout(Millis(timeout_ms));
  } catch (const Poco::Exception& e) {
    Fail("connect", e.displayText());
  }
  if (!endpoint.password.empty()) {
    RedisCommand auth = {"AUTH"};
    if (!endpoint.user.empty()) auth.push_back(endpoint.user);
    auth.push_back(endpoint.password);
    Exec(auth);
  }
  if (endpoint.db != 0) Exec({"SELECT", std::to_string(endpoint.db)});
}

RedisConn::~RedisConn() {
  try {
    client_->disconnect();
  } catch (const Poco::Exception&) {
  }
}

void RedisConn::Fail(const std::string& what, const std::string& reason) {
  healthy_ = false;
  throw RedisError(where_ + ": " + what + " failed: " + reason);
}

RedisReply RedisConn::Exec(const RedisCommand& command, int64_t wait_ms) {
  RedisReply reply;
  try {
    if (wait_ms > 0) client_->setReceiveTimeout(Millis(timeout_ms_ + wait_ms));
    reply = Convert(client_->sendCommand(ToArray(command)));
    if (wait_ms > 0) client_->setReceiveTimeout(Millis(timeout_ms_));
  } catch (const Poco::Exception& e) {
    Fail(command.empty() ? "command" : command[0], e.displayText());
  }
  if (reply.error()) throw RedisError(where_ + ": " + command[0] + ": " + reply.text);
  return reply;
}

std::vector<RedisReply> RedisConn::Pipeline(const std::vector<RedisCommand>& commands) {
  std::vector<RedisReply> replies;
  if (commands.empty()) return replies;
  std::vector<Poco::Redis::Array> arrays;
  arrays.reserve(commands.size());
  for (const RedisCommand& c : commands) arrays.push_back(ToArray(c));
  try {
    RedisReply all = ConvertArray(client_->sendCommands(arrays));
    replies = std::move(all.elements);
  } catch (const Poco::Exception& e) {
    Fail("pipeline of " + std::to_string(commands.size()) + " commands", e.displayText());
  }
  if (replies.size() != commands.size()) Fail("pipeline", "reply count does not match");
  return replies;
}

RedisPool::RedisPool(const RedisEndpoint& endpoint, int size, int64_t timeout_ms)
    : ConnPool<RedisConn>(
          [endpoint, timeout_ms] { return std::make_unique<RedisConn>(endpoint, timeout_ms); },
          size),
      endpoint_(endpoint) {}

}  // namespace crmsync::engine
