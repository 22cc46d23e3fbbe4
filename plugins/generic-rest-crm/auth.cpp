// Request authentication for generic-rest-crm; see auth.h.
#include "auth.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdio>
#include <vector>

#include "template.h"

namespace crmsync::genericrest {
namespace {

Context SecretContext(const Secrets& secrets) {
  Context context;
  if (!secrets.api_key.empty()) context["secret.apiKey"] = Var(secrets.api_key);
  if (!secrets.api_secret.empty()) context["secret.apiSecret"] = Var(secrets.api_secret);
  return context;
}

// kInvalidConfig when `tmpl` refers to a secret that is not set.
Status CheckSecretsSet(const std::string& tmpl, const std::string& where, const Secrets& secrets) {
  for (const std::string& name : TemplateVariables(tmpl)) {
    if (name == "secret.apiKey" && secrets.api_key.empty()) {
      return Status::InvalidConfig("api_key: required by the mapping's " + where +
                                   " (set CRM_API_KEY, crm.api.key or crm.api.key.file)");
    }
    if (name == "secret.apiSecret" && secrets.api_secret.empty()) {
      return Status::InvalidConfig("api_secret: required by the mapping's " + where +
                                   " (set CRM_API_SECRET, crm.api.secret or crm.api.secret.file)");
    }
  }
  return Status::Ok();
}

}  // namespace

Status StaticHeaders(const Mapping& mapping, const Secrets& secrets, HeaderList* out) {
  const Context context = SecretContext(secrets);
  HeaderList headers;
  for (const auto& header : mapping.headers) {
    Status status = CheckSecretsSet(header.second, "headers/" + header.first, secrets);
    if (!status.ok()) return status;
    const std::string value = RenderText(header.second, context);
    if (!value.empty()) headers.emplace_back(header.first, value);
  }
  const AuthSpec& auth = mapping.auth;
  if (auth.type == AuthSpec::Type::kApiKey) {
    for (const auto& header : auth.headers) {
      Status status = CheckSecretsSet(header.second, "auth/headers/" + header.first, secrets);
      if (!status.ok()) return status;
      headers.emplace_back(header.first, RenderText(header.second, context));
    }
  } else if (auth.type == AuthSpec::Type::kBearer) {
    Status status = CheckSecretsSet(auth.token, "auth/token", secrets);
    if (!status.ok()) return status;
    const std::string token = RenderText(auth.token, context);
    if (token.empty()) return Status::InvalidConfig("auth/token: renders to an empty token");
    headers.emplace_back("Authorization", "Bearer " + token);
  } else if (auth.type == AuthSpec::Type::kHmac) {
    Status status = CheckSecretsSet(auth.secret, "auth/secret", secrets);
    if (!status.ok()) return status;
    if (RenderText(auth.secret, context).empty()) {
      return Status::InvalidConfig("auth/secret: renders to an empty HMAC key");
    }
  }
  *out = headers;
  return Status::Ok();
}

Status QueryCredentials(const AuthSpec& auth, const Secrets& secrets,
                        std::vector<std::pair<std::string, std::string>>* out) {
  const Context context = SecretContext(secrets);
  std::vector<std::pair<std::string, std::string>> query;
  for (const auto& param : auth.query) {
    Status status = CheckSecretsSet(param.second, "auth/query/" + param.first, secrets);
    if (!status.ok()) return status;
    const std::string value = RenderText(param.second, context);
    if (value.empty()) {
      return Status::InvalidConfig("auth/query/" + param.first + ": renders to an empty value");
    }
    query.emplace_back(param.first, value);
  }
  *out = query;
  return Status::Ok();
}

std::string HmacSha256(const std::string& key, const std::string& data,
                       const std::string& encoding) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest, &length);
  if (encoding == "base64") {
    std::vector<unsigned char> text(4 * ((length + 2) / 3) + 1);
    const int written = EVP_EncodeBlock(text.data(), digest, static_cast<int>(length));
    return std::string(reinterpret_cast<const char*>(text.data()), static_cast<size_t>(written));
  }
  std::string hex;
  char byte[3];
  for (unsigned int i = 0; i < length; ++i) {
    std::snprintf(byte, sizeof(byte), "%02x", digest[i]);
    hex += byte;
  }
  return hex;
}

void SignRequest(const AuthSpec& auth, const Secrets& secrets, int64_t now_unix_s,
                 const std::string& wire_path, HttpRequest* request) {
  const std::string timestamp = std::to_string(now_unix_s);
  Context context;
  context["method"] = Var(request->method);
  context["path"] = Var(wire_path);
  context["timestamp"] = Var(timestamp);
  context["body"] = Var(request->body);
  const std::string key = RenderText(auth.secret, SecretContext(secrets));
  const std::string signature = HmacSha256(key, RenderText(auth.payload, context), auth.encoding);
  if (!auth.timestamp_header.empty())
    request->headers.emplace_back(auth.timestamp_header, timestamp);
  request->headers.emplace_back(auth.header, signature);
}

}  // namespace crmsync::genericrest
