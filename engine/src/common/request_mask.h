// common/request_mask.h: how a request the engine shows (`crmsync render`,
// shadow mode's examples) hides what must not be shown: the values of the
// secret settings wherever they appear, then emails, phones and tokens
// (MaskSensitive, crmsync/redact.h), and credential headers as "[token]".
//
// Immutable after construction; thread-safe.
#ifndef CRMSYNC_ENGINE_COMMON_REQUEST_MASK_H_
#define CRMSYNC_ENGINE_COMMON_REQUEST_MASK_H_

#include <string>
#include <vector>

namespace crmsync::engine {

class RequestMask {
 public:
  /// `secrets`: the values to hide wherever they appear, longest first
  /// (config::Settings::SecretValues()).
  explicit RequestMask(std::vector<std::string> secrets) : secrets_(std::move(secrets)) {}

  /// `text` with every secret value, email, phone and token masked.
  std::string Text(std::string text) const;

  /// A header's value as shown. A credential (by its name, or any header the
  /// transport adds beyond the standard ones: API keys, signatures) is
  /// "[token]", an Authorization's scheme kept ("Bearer [token]").
  std::string Header(const std::string& name, const std::string& value,
                     bool added_by_transport) const;

 private:
  std::vector<std::string> secrets_;  // Longest first.
};

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_COMMON_REQUEST_MASK_H_
