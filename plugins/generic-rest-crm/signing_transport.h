// signing_transport.h: a Transport that signs each request (HMAC auth of the
// mapping, auth.h) and hands it to the SDK's HttpTransport; it also prepares
// requests without sending them, for `crmsync render` (crmsync/prepare.h).
//
// Requests of a mapping without HMAC auth pass through untouched. The clock is
// injectable so tests can check signatures at a fixed time. Thread-safe: it
// holds only read-only state and the thread-safe inner transport.
#ifndef CRMSYNC_PLUGINS_GENERIC_REST_CRM_SIGNING_TRANSPORT_H_
#define CRMSYNC_PLUGINS_GENERIC_REST_CRM_SIGNING_TRANSPORT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "auth.h"
#include "crmsync/adapter.h"
#include "crmsync/prepare.h"

namespace crmsync::genericrest {

class SigningTransport final : public Transport, public PreparingTransport {
 public:
  /// `path_prefix` is the path of the CRM's base URL ("" or "/base"), which the
  /// inner transport prepends and the signature covers. `now_unix_s` defaults
  /// to the system clock.
  SigningTransport(std::unique_ptr<Transport> inner, AuthSpec auth, Secrets secrets,
                   std::string path_prefix, std::function<int64_t()> now_unix_s = nullptr);

  /// Signs (when the auth is hmac) and sends `request`.
  HttpResponse Send(const HttpRequest& request) override;

  /// The signed request as the inner transport would write it
  /// (crmsync/prepare.h), signed at the injected clock's now. kPermanent when
  /// the inner transport cannot prepare requests.
  Status Prepare(const HttpRequest& request, WireRequest* out) override;

 private:
  HttpRequest Signed(const HttpRequest& request) const;

  std::unique_ptr<Transport> inner_;
  const AuthSpec auth_;
  const Secrets secrets_;
  const std::string path_prefix_;
  const std::function<int64_t()> now_unix_s_;
};

}  // namespace crmsync::genericrest

#endif  // CRMSYNC_PLUGINS_GENERIC_REST_CRM_SIGNING_TRANSPORT_H_
