// oauth.h: OAuth 2.0 access tokens for generic-rest-crm (auth type oauth2,
// mapping-format.md "Auth"): the client-credentials and refresh-token grants
// (RFC 6749 §4.4, §6), a token cache shared by every worker thread, and the
// token endpoint's failures read into answers the adapter's Classify() maps.
//
// The cache refreshes a token `refreshMarginSeconds` before it expires (by the
// injected clock); one fetch is in flight at a time, and callers arriving
// meanwhile wait for it and share its result, failure included, so a failing
// token endpoint sees one request per round, not one per worker.
//
// A refresh token the endpoint rotates is saved through the PluginHost
// (kRefreshTokenStateKey) before the new access token is handed out, together
// with a fingerprint of the configured refresh token: on start the saved one
// is used only while the configured one is unchanged, so an operator who
// configures a fresh token is never overridden by an older saved one. When a
// save fails the new token is still used (the endpoint has already retired
// the old one) and the save is retried on every later call until it succeeds.
// When the endpoint refuses our refresh token with invalid_grant, the saved
// one is read again and, when another engine on the same store rotated it
// meanwhile, tried once.
//
// Secrets (client secret, refresh and access tokens) never appear in a
// message or in a failure answer: failures name the grant and the OAuth error
// code, and the endpoint's error_description masked (MaskSensitive).
//
// Thread-safe.
#ifndef CRMSYNC_PLUGINS_GENERIC_REST_CRM_OAUTH_H_
#define CRMSYNC_PLUGINS_GENERIC_REST_CRM_OAUTH_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "crmsync/adapter.h"
#include "crmsync/http.h"
#include "crmsync/status.h"
#include "mapping_file.h"

namespace crmsync::genericrest {

/// The header marking an answer that no CRM gave: the token endpoint failed
/// and the request was not sent. Its value is the outcome's name
/// ("unauthenticated", "retryable", "rate_limited").
constexpr char kTokenFailureHeader[] = "X-Crmsync-Token-Failure";

/// The PluginHost key under which the newest refresh token is saved.
constexpr char kRefreshTokenStateKey[] = "generic-rest-crm.oauth2.refresh_token";

/// The credentials of the oauth2 grants, from PluginConfig.
struct OAuth2Credentials {
  std::string client_id;      ///< api_key (CRM_API_KEY).
  std::string client_secret;  ///< api_secret (CRM_API_SECRET); "" for a public client.
  std::string refresh_token;  ///< The plugin key refresh_token (refresh_token grant).
};

/// The outcome of a token failure answer (one carrying kTokenFailureHeader):
/// kUnauthenticated (the endpoint refused the credentials: invalid_grant,
/// invalid_client, ...), kRateLimited (429, with Retry-After), kRetryable
/// (5xx, timeouts, an unreadable answer). nullopt for any other answer; a
/// CRM's answer always has request_sent set, so no CRM can pass for one.
std::optional<Status> TokenFailureStatus(const HttpResponse& response, int64_t now_unix_ms);

/// `text` percent-encoded but for RFC 3986's unreserved characters; with
/// `form`, a space becomes "+" (application/x-www-form-urlencoded).
std::string PercentEncode(const std::string& text, bool form);

/// kInvalidConfig naming the setting when `credentials` lack what `spec`'s
/// grant needs (never a value).
Status CheckOAuth2Credentials(const OAuth2Spec& spec, const OAuth2Credentials& credentials);

class TokenSource {
 public:
  /// `endpoint` sends to the token URL's origin; `token_path` is its path
  /// and query. `host` may be null (no saved state: rotation lives in memory
  /// only). `now_unix_ms` defaults to the system clock.
  TokenSource(OAuth2Spec spec, OAuth2Credentials credentials, std::unique_ptr<Transport> endpoint,
              std::string token_path, PluginHost* host,
              std::function<int64_t()> now_unix_ms = nullptr);
  ~TokenSource();

  /// Reads the saved refresh token (refresh_token grant, with a host); see
  /// the file comment. kRetryable when the host cannot read its store.
  Status Load();

  /// A usable access token: the cached one while more than the margin of its
  /// life is left, else a fresh one. false with `*failure` set to an answer
  /// carrying kTokenFailureHeader when the endpoint fails.
  bool Get(std::string* token, HttpResponse* failure);

  /// A new access token after the CRM refused `rejected`; when another caller
  /// has already replaced `rejected`, that replacement (no second fetch).
  bool Renew(const std::string& rejected, std::string* token, HttpResponse* failure);

  /// Requests sent to the token endpoint so far (for tests).
  int64_t fetches() const;

  /// The refresh token the next refresh_token grant uses (for tests).
  std::string refresh_token() const;

 private:
  struct Answer;
  bool Acquire(const std::string* rejected, std::string* token, HttpResponse* failure);
  bool UsableLocked(int64_t now_ms) const;
  Answer Fetch(const std::string& refresh_token);
  Answer FetchWithRecovery(const std::string& refresh_token);
  Status SaveRefreshToken(const std::string& refresh_token);
  void RetryPendingSave();
  std::optional<std::string> SavedRefreshToken(Status* status);

  const OAuth2Spec spec_;
  const OAuth2Credentials credentials_;
  const std::unique_ptr<Transport> endpoint_;
  const std::string token_path_;
  PluginHost* const host_;
  const std::function<int64_t()> now_ms_;

  mutable std::mutex mu_;
  std::condition_variable fetched_;
  bool fetching_ = false;
  uint64_t generation_ = 0;  // Completed fetches.
  bool last_fetch_ok_ = true;
  HttpResponse last_failure_;
  std::string access_token_;
  int64_t refresh_at_ms_ = -1;  // -1: no expiry given; renewed on a 401 only.
  std::string refresh_token_;
  bool save_pending_ = false;    // The newest refresh token is not saved yet.
  /// Serializes saves of the refresh token and the state update that follows
  /// each, so an older token never lands in the store after a newer one.
  /// Taken before mu_ when both are held.
  std::mutex save_mu_;
  int64_t fetches_ = 0;
};

}  // namespace crmsync::genericrest

#endif  // CRMSYNC_PLUGINS_GENERIC_REST_CRM_OAUTH_H_
