// crmsync/prepare.h: what a transport would put on the wire, without sending.
//
// A Mapper builds an HttpRequest; the Transport may add to it when it sends:
// its default headers (credentials such as an API key or a bearer token), a
// signature computed over the request at send time, the base URL and its path
// prefix, Host, Content-Type and Content-Length. `crmsync render` shows what
// an event would send, so it asks the transport for exactly that, with no
// network access, through this optional interface.
//
// A transport implements it by deriving from PreparingTransport beside
// Transport. The SDK's HttpTransport does; a transport that wraps another (one
// that signs, say) prepares its own part and asks the inner one for the rest.
// The engine finds the interface with AsPreparing(); a plugin built before ABI
// 2.3, or a transport that does not implement it, is shown without what its
// transport adds, and `render` says so.
//
// Added in ABI 2.3. Prepare() is called concurrently with Send() and must be
// as thread-safe as Send(). It never throws.
#ifndef CRMSYNC_PREPARE_H_
#define CRMSYNC_PREPARE_H_

#include <string>

#include "crmsync/adapter.h"
#include "crmsync/http.h"
#include "crmsync/status.h"

namespace crmsync {

/// One request as it would leave the transport.
struct WireRequest {
  std::string method;
  /// Absolute: scheme, host, port when not the scheme's default, the base URL's
  /// path prefix and the request's path and query
  /// ("https://crm.example.com/base/api/leads?x=1").
  std::string url;
  /// Every header Send() would write, in the order it would write them,
  /// credentials included: the caller masks them before showing them.
  HeaderList headers;
  std::string body;
};

/// The optional interface of a transport that can tell what it would send.
class PreparingTransport {
 public:
  virtual ~PreparingTransport();
  /// Fills `*out` with `request` as Send(request) would write it now (a
  /// signature is computed for the current time). Sends nothing and opens no
  /// connection. The Status Send() would fail with, without sending, when the
  /// request cannot be sent (kPermanent naming the bad header or path).
  virtual Status Prepare(const HttpRequest& request, WireRequest* out) = 0;
};

/// `transport` as a PreparingTransport, or nullptr when it does not implement
/// it (a plugin built before ABI 2.3, or a transport of its own that does not).
PreparingTransport* AsPreparing(Transport* transport) noexcept;

}  // namespace crmsync

#endif  // CRMSYNC_PREPARE_H_
