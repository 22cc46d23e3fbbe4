// mock-crm's outgoing webhooks; see webhook_emitter.h.
#include "webhook_emitter.h"

#include <chrono>
#include <exception>
#include <istream>
#include <ostream>

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Timespan.h>
#include <Poco/URI.h>

#include "json_util.h"

namespace crmsync::mockcrm {
namespace {

constexpr char kUrlKey[] = "webhook_url";
constexpr char kSecretKey[] = "webhook_secret";

int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

WebhookEmitter::WebhookEmitter() : start_ms_(WallMs()) {}

WebhookEmitter::~WebhookEmitter() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (sender_.joinable()) sender_.join();
}

Status WebhookEmitter::Configure(const PluginConfig& config) {
  bool emit = false;
  if (!config.Get(kEmitWebhooksKey).empty() && !config.GetBool(kEmitWebhooksKey, &emit)) {
    return Status::InvalidConfig(std::string(kEmitWebhooksKey) + ": expected true or false, got '" +
                                 config.Get(kEmitWebhooksKey) + "'");
  }
  const std::string url = config.Get(kUrlKey);
  if (emit && !url.empty()) {
    bool valid = false;
    try {
      Poco::URI uri(url);
      valid = uri.getScheme() == "http" && !uri.getHost().empty();
    } catch (const std::exception&) {
      valid = false;
    }
    if (!valid) {
      return Status::InvalidConfig(std::string(kUrlKey) +
                                   ": mock-crm emits webhooks to an http:// "
                                   "URL only, got '" +
                                   url + "'");
    }
  }
  std::lock_guard<std::mutex> lock(mutex_);
  emit_ = emit;
  url_ = url;
  secret_ = config.Get(kSecretKey);
  return Status::Ok();
}

bool WebhookEmitter::enabled() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return emit_ && !url_.empty();
}

void WebhookEmitter::Enqueue(const std::string& kind, const std::string& action,
                             const std::string& entity_id, const Poco::JSON::Object::Ptr& data) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!emit_ || url_.empty() || stopping_) return;
  if (queue_.size() >= kMaxQueued) {
    ++results_["dropped"];
    return;
  }
  Outgoing webhook;
  webhook.url = url_;
  webhook.secret = secret_;
  webhook.event = kind + "." + action;
  webhook.delivery_id = "mock-" + std::to_string(start_ms_) + "-" + std::to_string(++sequence_);
  Poco::JSON::Object::Ptr body = NewObject();
  body->set("event", webhook.event);
  body->set("entityId", entity_id);
  body->set("data", data);
  webhook.body = ToJson(body);
  queue_.push_back(std::move(webhook));
  if (!sender_.joinable()) sender_ = std::thread([this] { Loop(); });
  wake_.notify_all();
}

Poco::JSON::Object::Ptr WebhookEmitter::Results() const {
  std::lock_guard<std::mutex> lock(mutex_);
  Poco::JSON::Object::Ptr results = NewObject();
  for (const auto& [status, count] : results_) results->set(status, count);
  return results;
}

int64_t WebhookEmitter::Pending() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return static_cast<int64_t>(queue_.size()) + (sending_ ? 1 : 0);
}

void WebhookEmitter::Loop() {
  while (true) {
    Outgoing next;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      next = std::move(queue_.front());
      queue_.pop_front();
      sending_ = true;
    }
    const int status = Post(next);
    std::lock_guard<std::mutex> lock(mutex_);
    sending_ = false;
    ++results_[std::to_string(status)];
  }
}

int WebhookEmitter::Post(const Outgoing& webhook) {
  try {
    Poco::URI uri(webhook.url);
    Poco::Net::HTTPClientSession session(uri.getHost(), uri.getPort());
    session.setTimeout(Poco::Timespan(kTimeoutMs * 1000));
    const std::string path = uri.getPathAndQuery().empty() ? "/" : uri.getPathAndQuery();
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_POST, path,
                                   Poco::Net::HTTPMessage::HTTP_1_1);
    request.setContentType("application/json");
    request.setContentLength(static_cast<std::streamsize>(webhook.body.size()));
    request.set("X-CRM-Secret", webhook.secret);
    request.set("X-CRM-Event", webhook.event);
    request.set("X-CRM-Delivery", webhook.delivery_id);
    session.sendRequest(request) << webhook.body;
    Poco::Net::HTTPResponse response;
    std::istream& answer = session.receiveResponse(response);
    answer.ignore(1 << 20);
    return static_cast<int>(response.getStatus());
  } catch (const std::exception&) {
    return 0;  // Poco::Exception derives from std::exception.
  }
}

}  // namespace crmsync::mockcrm
