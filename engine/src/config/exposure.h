// config/exposure.h: the rule that keeps development tokens on loopback.
//
// The shipped config/crmsync.properties carries public development tokens so
// the README's quick start works on 127.0.0.1. Bound to any other address the
// same values would let anyone who read the README send events or disable
// sync, so `serve` and `check-config` refuse that combination (docs/design.md §7).
//
// Pure functions over loaded Settings; thread-safe.
#ifndef CRMSYNC_ENGINE_CONFIG_EXPOSURE_H_
#define CRMSYNC_ENGINE_CONFIG_EXPOSURE_H_

#include <cstddef>
#include <string>
#include <vector>

#include "config/settings.h"

namespace crmsync::config {

/// The fewest characters an API token needs off loopback (openssl rand -hex 16
/// gives 32).
constexpr size_t kMinExposedTokenLength = 32;

/// True for a loopback listen address: 127.0.0.0/8, ::1 (bracketed or not) and
/// localhost. Any other text, host names included, counts as exposed.
bool IsLoopbackHost(const std::string& host);

/// Token and secret values shipped for development: those in
/// config/crmsync.properties (a test keeps the two in step) and the schema's
/// defaults that are not empty (none today; an empty token closes its API).
const std::vector<std::string>& DevelopmentTokens();

/// With a server.host that is not loopback, one error per setting that guards
/// the listener and is unsafe there:
///  - intake.token, admin.token: a development value, shorter than
///    kMinExposedTokenLength, or the same token for both APIs;
///  - crm.webhook.secret, webhook.secrets: a development value, or equal to
///    intake.token or admin.token. (Their length is the CRM's choice, so it is
///    not judged.)
/// An empty token is allowed: it closes its API. Messages name the setting,
/// where its value came from and the reason, never the value.
void CheckExposure(const Settings& settings, std::vector<Diagnostic>* diagnostics);

}  // namespace crmsync::config

#endif  // CRMSYNC_ENGINE_CONFIG_EXPOSURE_H_
