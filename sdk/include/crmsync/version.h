// crmsync/version.h: the SDK's ABI version and the C++ runtime tag.
//
// ABI policy: the major version changes whenever a change to any public header
// breaks a plugin built against the previous headers (a virtual method added,
// removed or reordered; a public struct's layout changed; a Status code's meaning
// changed). The engine refuses a plugin whose major differs. The minor version
// grows with additions that old plugins do not see (new free functions, new
// enum values only ever produced by the engine); the engine accepts a plugin
// whose minor is not newer than its own. A member appended to a struct is a
// major change too when the struct crosses in an array (SyncJob does, in
// Mapper::BuildBatch's std::vector): an older plugin would step through it
// with the old size.
//
// 2.0: SyncJob::changed_fields (what a job changed, beside the merged entity).
// 2.1: crmsync/rate_limit.h (budget headers: RateLimitHeaders and the free
//      functions that check and read them); Dump()'s "rateLimitHeaders".
// 2.2: TransportError::kDns (the host name did not resolve), produced by the
//      SDK's HttpTransport, which a plugin links statically: a plugin built
//      against 2.2 may hand the engine kDns, so it needs an engine of 2.2.
// 2.3: crmsync/prepare.h (PreparingTransport: a transport tells what it would
//      send without sending, for `crmsync render`), implemented by the SDK's
//      HttpTransport. The engine finds it with AsPreparing(), so a 2.2 plugin
//      still loads; the Transport class itself is unchanged.
// 3.0: SyncJob::related (the CRM ids of related records: the lead's property,
//      the assigned agent); Adapter::Attach(PluginHost*) (durable plugin
//      state in the engine's store, for rotated OAuth tokens);
//      Adapter::ListUsers and CrmUser replace ListAgents (the engine matches
//      dealers to CRM users by platform id or email).
// 4.0: inbound from real CRMs. WebhookDelivery::method, url, received_ms;
//      InboundChange::event_ids (per-event dedup) and fetch (notification-only
//      deliveries); Capabilities::inbound_webhooks and change_polling;
//      Adapter::FetchChange and PollChanges (change polling), PollRequest,
//      PollPage; VerifyWebhook is asked before the engine's own schemes;
//      crmsync/webhook_verify.h (vendor signature schemes).
// 4.1: crmsync/records.h (RecordReader: an adapter lists the CRM's records
//      and reads one by id, for reconcile). The engine finds it with
//      AsRecordReader(), so a 4.0 plugin still loads; Adapter is unchanged.
#ifndef CRMSYNC_VERSION_H_
#define CRMSYNC_VERSION_H_

#define CRMSYNC_ABI_MAJOR 4
#define CRMSYNC_ABI_MINOR 1

// Plugins and engine exchange std::string, std::vector and virtual calls, so
// they must share the C++ runtime ABI. The tag names it; it must match exactly.
#if defined(_GLIBCXX_USE_CXX11_ABI) && _GLIBCXX_USE_CXX11_ABI
#define CRMSYNC_ABI_TAG "itanium/libstdc++/cxx11"
#elif defined(__GLIBCXX__)
#define CRMSYNC_ABI_TAG "itanium/libstdc++/cxx98"
#elif defined(_LIBCPP_VERSION)
#define CRMSYNC_ABI_TAG "itanium/libc++"
#else
#define CRMSYNC_ABI_TAG "unknown"
#endif

#define CRMSYNC_STRINGIFY2(x) #x
#define CRMSYNC_STRINGIFY(x) CRMSYNC_STRINGIFY2(x)
#if defined(__clang__)
#define CRMSYNC_COMPILER_ID \
  "clang-" CRMSYNC_STRINGIFY(__clang_major__) "." CRMSYNC_STRINGIFY(__clang_minor__)
#elif defined(__GNUC__)
#define CRMSYNC_COMPILER_ID "gcc-" CRMSYNC_STRINGIFY(__GNUC__) "." CRMSYNC_STRINGIFY(__GNUC_MINOR__)
#else
#define CRMSYNC_COMPILER_ID "unknown"
#endif

namespace crmsync {

/// The ABI major version the headers in use describe.
constexpr int kAbiMajor = CRMSYNC_ABI_MAJOR;
/// The ABI minor version the headers in use describe.
constexpr int kAbiMinor = CRMSYNC_ABI_MINOR;

}  // namespace crmsync

#endif  // CRMSYNC_VERSION_H_
