// The signing transport of generic-rest-crm; see signing_transport.h.
#include "signing_transport.h"

#include <chrono>
#include <utility>

namespace crmsync::genericrest {

SigningTransport::SigningTransport(std::unique_ptr<Transport> inner, AuthSpec auth, Secrets secrets,
                                   std::string path_prefix, std::function<int64_t()> now_unix_s)
    : inner_(std::move(inner)),
      auth_(std::move(auth)),
      secrets_(std::move(secrets)),
      path_prefix_(std::move(path_prefix)),
      now_unix_s_(now_unix_s ? std::move(now_unix_s) : [] {
        return static_cast<int64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
      }) {}

HttpRequest SigningTransport::Signed(const HttpRequest& request) const {
  HttpRequest signed_request = request;
  SignRequest(auth_, secrets_, now_unix_s_(), path_prefix_ + request.path, &signed_request);
  return signed_request;
}

HttpResponse SigningTransport::Send(const HttpRequest& request) {
  if (auth_.type != AuthSpec::Type::kHmac) return inner_->Send(request);
  return inner_->Send(Signed(request));
}

Status SigningTransport::Prepare(const HttpRequest& request, WireRequest* out) {
  PreparingTransport* inner = AsPreparing(inner_.get());
  if (inner == nullptr) return Status::Permanent("the inner transport cannot prepare requests");
  if (auth_.type != AuthSpec::Type::kHmac) return inner->Prepare(request, out);
  return inner->Prepare(Signed(request), out);
}

}  // namespace crmsync::genericrest
