// OAuth 2.0 access tokens for generic-rest-crm; see oauth.h.
#include "oauth.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <sstream>
#include <utility>

#include <Poco/Base64Encoder.h>
#include <Poco/Exception.h>

#include "auth.h"
#include "crmsync/classify.h"
#include "crmsync/redact.h"
#include "json_util.h"

namespace crmsync::genericrest {
namespace {

constexpr char kUnauthenticated[] = "unauthenticated";
constexpr char kRetryable[] = "retryable";
constexpr char kRateLimited[] = "rate_limited";
// The fingerprint binds a saved refresh token to the configured one; keyed so
// the stored value is not a plain hash of a secret.
constexpr char kFingerprintKey[] = "crmsync generic-rest-crm oauth2 configured refresh token";

std::string Fingerprint(const std::string& configured) {
  return HmacSha256(kFingerprintKey, configured, "hex");
}

std::string Base64(const std::string& text) {
  std::ostringstream out;
  Poco::Base64Encoder encoder(out);
  encoder.rdbuf()->setLineLength(0);
  encoder << text;
  encoder.close();
  return out.str();
}

// The endpoint's own words, safe to show: masked, without control characters,
// at most 200 bytes, and never one of our secrets even if it echoes one.
std::string Shown(std::string text, const OAuth2Credentials& credentials,
                  const std::string& refresh_token) {
  text = MaskSecrets(std::move(text),
                     {credentials.client_secret, credentials.refresh_token, refresh_token});
  std::string clean;
  for (char c : text) {
    if (static_cast<unsigned char>(c) >= 0x20) clean += c;
  }
  if (clean.size() > 200) clean = clean.substr(0, 200) + "...";
  return MaskSensitive(clean);
}

// An answer no CRM gave, read by TokenFailureStatus().
HttpResponse FailureAnswer(const char* outcome, int status, const std::string& reason,
                           const std::string& retry_after) {
  HttpResponse response;
  response.status = status;
  response.headers.emplace_back(kTokenFailureHeader, outcome);
  if (!retry_after.empty()) response.headers.emplace_back("Retry-After", retry_after);
  JsonObject body = NewObject();
  body->set("message", reason);
  response.body = ToJson(Var(body));
  response.request_sent = false;
  return response;
}

std::string StringMember(const Var& root, const char* name) {
  if (!IsObject(root)) return "";
  const JsonObject object = root.extract<JsonObject>();
  if (!object->has(name)) return "";
  const Var value = object->get(name);
  return IsString(value) ? value.extract<std::string>() : "";
}

// What to do about an OAuth error code (RFC 6749 §5.2).
std::string Hint(const std::string& grant, const std::string& code) {
  if (code == "invalid_grant" && grant == "refresh_token") {
    return "the refresh token is expired, revoked or wrong: configure a new one "
           "(crm.generic-rest-crm.refresh_token)";
  }
  if (code == "invalid_client" || code == "unauthorized_client" || code == "invalid_grant") {
    return "check the client id and secret (CRM_API_KEY / CRM_API_SECRET) and the client's "
           "permissions at the CRM";
  }
  return "check auth in the mapping (grant, scope, tokenUrl) and the client's settings at the CRM";
}

}  // namespace

struct TokenSource::Answer {
  bool ok = false;
  std::string access_token;
  int64_t lifetime_s = -1;  // -1: the endpoint gave no expires_in.
  std::string refresh_token;
  HttpResponse failure;
  std::string error_code;  // The OAuth error code of a refusal.
};

std::string PercentEncode(const std::string& text, bool form) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else if (c == ' ' && form) {
      out += '+';
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::optional<Status> TokenFailureStatus(const HttpResponse& response, int64_t now_unix_ms) {
  const std::string outcome = response.Header(kTokenFailureHeader);
  if (outcome.empty() || response.request_sent) return std::nullopt;
  if (response.error != TransportError::kNone) return Status::Retryable(response.error_message);
  Var body;
  std::string error;
  const std::string reason =
      ParseJson(response.body, &body, &error) ? StringMember(body, "message") : response.body;
  if (outcome == kUnauthenticated) return Status::Unauthenticated(reason);
  if (outcome == kRateLimited) {
    const int64_t wait = ParseRetryAfterMs(response.Header("Retry-After"), now_unix_ms);
    return Status::RateLimited(reason, wait >= 0 ? wait : kDefaultRateLimitWaitMs);
  }
  const int64_t wait = ParseRetryAfterMs(response.Header("Retry-After"), now_unix_ms);
  return Status::Retryable(reason, wait);
}

Status CheckOAuth2Credentials(const OAuth2Spec& spec, const OAuth2Credentials& credentials) {
  if (credentials.client_id.empty()) {
    return Status::InvalidConfig(
        "api_key: required by auth type oauth2 as the client id (set CRM_API_KEY, crm.api.key "
        "or crm.api.key.file)");
  }
  if (spec.grant == "client_credentials" && credentials.client_secret.empty()) {
    return Status::InvalidConfig(
        "api_secret: required by the oauth2 client_credentials grant as the client secret (set "
        "CRM_API_SECRET, crm.api.secret or crm.api.secret.file)");
  }
  if (spec.grant == "refresh_token" && credentials.refresh_token.empty()) {
    return Status::InvalidConfig(
        "refresh_token: required by the oauth2 refresh_token grant (set "
        "crm.generic-rest-crm.refresh_token)");
  }
  return Status::Ok();
}

TokenSource::TokenSource(OAuth2Spec spec, OAuth2Credentials credentials,
                         std::unique_ptr<Transport> endpoint, std::string token_path,
                         PluginHost* host, std::function<int64_t()> now_unix_ms)
    : spec_(std::move(spec)),
      credentials_(std::move(credentials)),
      endpoint_(std::move(endpoint)),
      token_path_(std::move(token_path)),
      host_(host),
      now_ms_(now_unix_ms ? std::move(now_unix_ms) : [] {
        return static_cast<int64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
      }),
      refresh_token_(credentials_.refresh_token) {}

TokenSource::~TokenSource() = default;

std::optional<std::string> TokenSource::SavedRefreshToken(Status* status) {
  *status = Status::Ok();
  if (host_ == nullptr || spec_.grant != "refresh_token") return std::nullopt;
  std::optional<std::string> value;
  *status = host_->LoadState(kRefreshTokenStateKey, &value);
  if (!status->ok()) {
    *status = Status::Retryable("oauth2: cannot read the saved refresh token: " +
                                MaskSensitive(status->message()));
    return std::nullopt;
  }
  if (!value) return std::nullopt;
  Var saved;
  std::string error;
  if (!ParseJson(*value, &saved, &error)) return std::nullopt;
  // Saved against another configured token: the operator configured a fresh
  // one since, and it wins.
  if (StringMember(saved, "configured") != Fingerprint(credentials_.refresh_token)) {
    return std::nullopt;
  }
  const std::string token = StringMember(saved, "token");
  if (token.empty()) return std::nullopt;
  return token;
}

Status TokenSource::Load() {
  Status status;
  std::optional<std::string> saved = SavedRefreshToken(&status);
  if (!status.ok()) return status;
  std::lock_guard<std::mutex> lock(mu_);
  if (saved) refresh_token_ = *saved;
  return Status::Ok();
}

Status TokenSource::SaveRefreshToken(const std::string& refresh_token) {
  if (host_ == nullptr) return Status::Ok();
  JsonObject value = NewObject();
  value->set("configured", Fingerprint(credentials_.refresh_token));
  value->set("token", refresh_token);
  return host_->SaveState(kRefreshTokenStateKey, ToJson(Var(value)));
}

TokenSource::Answer TokenSource::Fetch(const std::string& refresh_token) {
  const std::string& grant = spec_.grant;
  HttpRequest request;
  request.method = "POST";
  request.path = token_path_;
  request.route = "oauth2.token";
  request.content_type = "application/x-www-form-urlencoded";
  request.headers.emplace_back("Accept", "application/json");
  std::string body = "grant_type=" + PercentEncode(grant, true);
  if (grant == "refresh_token") body += "&refresh_token=" + PercentEncode(refresh_token, true);
  if (!spec_.scope.empty()) body += "&scope=" + PercentEncode(spec_.scope, true);
  if (spec_.client_auth == "basic") {
    request.headers.emplace_back(
        "Authorization", "Basic " + Base64(PercentEncode(credentials_.client_id, true) + ":" +
                                           PercentEncode(credentials_.client_secret, true)));
  } else {
    body += "&client_id=" + PercentEncode(credentials_.client_id, true);
    if (!credentials_.client_secret.empty()) {
      body += "&client_secret=" + PercentEncode(credentials_.client_secret, true);
    }
  }
  request.body = body;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++fetches_;
  }
  HttpResponse response = endpoint_->Send(request);

  Answer answer;
  const std::string what = "oauth2 token endpoint (" + grant + " grant)";
  if (response.error != TransportError::kNone) {
    // Nothing reached the CRM: the engine retries without an unknown outcome.
    answer.failure.error = response.error;
    answer.failure.error_message = what + ": " + response.error_message;
    answer.failure.headers.emplace_back(kTokenFailureHeader, kRetryable);
    answer.failure.request_sent = false;
    return answer;
  }
  const int status = response.status;
  const std::string http = "HTTP " + std::to_string(status);
  Var parsed;
  std::string parse_error;
  const bool json = ParseJson(response.body, &parsed, &parse_error) && IsObject(parsed);
  const std::string code = json ? StringMember(parsed, "error") : "";
  const std::string description =
      json ? Shown(StringMember(parsed, "error_description"), credentials_, refresh_token) : "";
  if (status == 429) {
    answer.failure = FailureAnswer(kRateLimited, 429, what + " is rate limited (" + http + ")",
                                   response.Header("Retry-After"));
    return answer;
  }
  if (status == 408 || status >= 500 || code == "temporarily_unavailable" ||
      code == "server_error") {
    answer.failure = FailureAnswer(kRetryable, 503,
                                   what + " failed: " + http + (code.empty() ? "" : " " + code) +
                                       (description.empty() ? "" : " (" + description + ")"),
                                   response.Header("Retry-After"));
    return answer;
  }
  // Some endpoints (Zoho) refuse with 200 and an error body.
  if ((status >= 400 && status < 500) || (status >= 200 && status < 300 && !code.empty())) {
    answer.error_code =
        code.empty() ? "no OAuth error code" : Shown(code, credentials_, refresh_token);
    answer.failure = FailureAnswer(
        kUnauthenticated, 401,
        "oauth2 token endpoint refused the " + grant + " grant: " + answer.error_code + " (" +
            http + (description.empty() ? "" : ": " + description) + "); " + Hint(grant, code),
        "");
    return answer;
  }
  const std::string access = json ? StringMember(parsed, "access_token") : "";
  if (status < 200 || status >= 300 || access.empty()) {
    // Never a success: without a token nothing can be sent.
    answer.failure = FailureAnswer(kRetryable, 503,
                                   what + " gave an unreadable answer (" + http +
                                       (json ? ", no access_token" : ", not a JSON object") + ")",
                                   "");
    return answer;
  }
  answer.ok = true;
  answer.access_token = access;
  const JsonObject object = parsed.extract<JsonObject>();
  if (object->has("expires_in")) {
    const Var expires = object->get("expires_in");
    try {
      if (IsNumber(expires) || IsString(expires)) {
        const int64_t seconds = expires.convert<Poco::Int64>();
        if (seconds > 0) answer.lifetime_s = seconds;
      }
    } catch (const Poco::Exception&) {
      // Not a number: treated as no expiry given, renewed on a 401.
    }
  }
  if (grant == "refresh_token") answer.refresh_token = StringMember(parsed, "refresh_token");
  return answer;
}

TokenSource::Answer TokenSource::FetchWithRecovery(const std::string& refresh_token) {
  Answer answer = Fetch(refresh_token);
  if (answer.ok || answer.error_code != "invalid_grant" || spec_.grant != "refresh_token") {
    return answer;
  }
  // Another engine on the same store may have rotated the token we hold.
  Status status;
  std::optional<std::string> saved = SavedRefreshToken(&status);
  if (!saved || *saved == refresh_token) return answer;
  {
    std::lock_guard<std::mutex> lock(mu_);
    refresh_token_ = *saved;
  }
  return Fetch(*saved);
}

bool TokenSource::UsableLocked(int64_t now_ms) const {
  return !access_token_.empty() && (refresh_at_ms_ < 0 || now_ms < refresh_at_ms_);
}

// A rotated refresh token whose save failed is saved again by one caller,
// outside mu_: a store that is slow or down must not hold every worker.
void TokenSource::RetryPendingSave() {
  std::unique_lock<std::mutex> save_lock(save_mu_, std::try_to_lock);
  if (!save_lock.owns_lock()) return;  // Another thread is saving.
  std::string token;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!save_pending_) return;
    token = refresh_token_;
  }
  const bool saved = SaveRefreshToken(token).ok();
  std::lock_guard<std::mutex> lock(mu_);
  if (saved && refresh_token_ == token) save_pending_ = false;
}

bool TokenSource::Acquire(const std::string* rejected, std::string* token, HttpResponse* failure) {
  RetryPendingSave();
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    const bool replaced = rejected == nullptr || access_token_ != *rejected;
    if (replaced && UsableLocked(now_ms_())) {
      *token = access_token_;
      return true;
    }
    if (fetching_) {
      const uint64_t generation = generation_;
      fetched_.wait(lock, [&] { return generation_ != generation; });
      if (!last_fetch_ok_) {
        *failure = last_failure_;
        return false;
      }
      continue;
    }
    fetching_ = true;
    const std::string refresh_token = refresh_token_;
    lock.unlock();
    Answer answer = FetchWithRecovery(refresh_token);
    // A rotated refresh token is saved before anyone uses the new access
    // token, so a restart from here on reads the newest one.
    bool saved = true;
    std::unique_lock<std::mutex> save_lock(save_mu_, std::defer_lock);
    if (answer.ok && !answer.refresh_token.empty()) {
      save_lock.lock();  // Held until refresh_token_ names what was saved.
      saved = SaveRefreshToken(answer.refresh_token).ok();
    }
    const int64_t now = now_ms_();
    lock.lock();
    fetching_ = false;
    ++generation_;
    last_fetch_ok_ = answer.ok;
    if (answer.ok) {
      access_token_ = answer.access_token;
      if (answer.lifetime_s < 0) {
        refresh_at_ms_ = -1;
      } else {
        const int64_t lifetime_ms = answer.lifetime_s * 1000;
        // A token shorter-lived than twice the margin is refreshed at half its life.
        const int64_t margin_ms = std::min(spec_.refresh_margin_s * 1000, lifetime_ms / 2);
        refresh_at_ms_ = now + lifetime_ms - margin_ms;
      }
      if (!answer.refresh_token.empty()) {
        refresh_token_ = answer.refresh_token;
        save_pending_ = !saved;
      }
      *token = access_token_;
    } else {
      access_token_.clear();
      last_failure_ = answer.failure;
      *failure = answer.failure;
    }
    fetched_.notify_all();
    return answer.ok;
  }
}

bool TokenSource::Get(std::string* token, HttpResponse* failure) {
  return Acquire(nullptr, token, failure);
}

bool TokenSource::Renew(const std::string& rejected, std::string* token, HttpResponse* failure) {
  return Acquire(&rejected, token, failure);
}

int64_t TokenSource::fetches() const {
  std::lock_guard<std::mutex> lock(mu_);
  return fetches_;
}

std::string TokenSource::refresh_token() const {
  std::lock_guard<std::mutex> lock(mu_);
  return refresh_token_;
}

}  // namespace crmsync::genericrest
