// Development tokens off loopback; see exposure.h.
#include "config/exposure.h"

#include <algorithm>
#include <cctype>

#include <Poco/Net/IPAddress.h>

namespace crmsync::config {
namespace {

bool IsDevelopmentToken(const std::string& value) {
  const std::vector<std::string>& dev = DevelopmentTokens();
  return std::find(dev.begin(), dev.end(), value) != dev.end();
}

std::string SourceOf(const Settings& settings, const std::string& key) {
  const SettingValue* value = settings.Find(key);
  return value == nullptr ? "default" : value->source;
}

}  // namespace

bool IsLoopbackHost(const std::string& host) {
  std::string text = host;
  if (text.size() > 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
  }
  std::string lower = text;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "localhost" || lower == "localhost.") return true;
  Poco::Net::IPAddress address;
  return Poco::Net::IPAddress::tryParse(text, address) && address.isLoopback();
}

const std::vector<std::string>& DevelopmentTokens() {
  static const std::vector<std::string> tokens = [] {
    std::vector<std::string> list = {"dev-intake-token", "dev-admin-token"};
    for (const KeySpec& spec : Schema()) {
      if (spec.secret && !spec.default_value.empty()) list.push_back(spec.default_value);
    }
    return list;
  }();
  return tokens;
}

void CheckExposure(const Settings& settings, std::vector<Diagnostic>* diagnostics) {
  const std::string host = settings.GetString("server.host");
  if (IsLoopbackHost(host)) return;
  const std::string where = " while server.host is '" + host + "' (not loopback)";
  auto token_advice = [](const std::string& key) {
    return "; set a random token of at least " + std::to_string(kMinExposedTokenLength) +
           " characters (openssl rand -hex 32), e.g. in the file " + key +
           ".file names, or bind server.host to 127.0.0.1";
  };
  const std::string secret_advice =
      "; use the secret the CRM issued for this endpoint, or bind server.host to 127.0.0.1";
  auto refuse = [&](const std::string& key, const std::string& reason, const std::string& advice) {
    diagnostics->push_back({Diagnostic::Level::kError, key,
                            key + " (from " + SourceOf(settings, key) + "): " + reason + where +
                                advice});
  };
  const std::string intake = settings.GetString("intake.token");
  const std::string admin = settings.GetString("admin.token");
  for (const auto& [key, value] : {std::pair{"intake.token", intake}, std::pair{"admin.token", admin}}) {
    if (value.empty()) continue;  // The API is closed.
    if (IsDevelopmentToken(value)) {
      refuse(key, "is the public development token shipped in config/crmsync.properties",
             token_advice(key));
    } else if (value.size() < kMinExposedTokenLength) {
      refuse(key, "is shorter than " + std::to_string(kMinExposedTokenLength) + " characters",
             token_advice(key));
    }
  }
  if (!intake.empty() && intake == admin) {
    refuse("admin.token",
           "is the same token as intake.token (the platform could then run the admin API)",
           token_advice("admin.token"));
  }
  std::vector<std::pair<std::string, std::string>> webhook;  // (key, value)
  webhook.push_back({"crm.webhook.secret", settings.GetString("crm.webhook.secret")});
  for (const std::string& secret : settings.GetList("webhook.secrets")) {
    webhook.push_back({"webhook.secrets", secret});
  }
  for (const auto& [key, value] : webhook) {
    if (value.empty()) continue;
    if (IsDevelopmentToken(value)) {
      refuse(key, "holds a public development token shipped in config/crmsync.properties",
             secret_advice);
    } else if (value == intake || value == admin) {
      refuse(key, std::string("holds the same value as ") +
                      (value == admin ? "admin.token" : "intake.token") +
                      " (the CRM would then hold an API token)",
             secret_advice);
    }
  }
}

}  // namespace crmsync::config
