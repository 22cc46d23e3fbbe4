// crmsync/export.h: symbol visibility for the SDK's plugin entry points.
//
// Plugins are built with hidden visibility; only the entry points that the
// engine looks up by name (the descriptor and the Poco manifest) are exported.
#ifndef CRMSYNC_EXPORT_H_
#define CRMSYNC_EXPORT_H_

#if defined(__GNUC__) || defined(__clang__)
#define CRMSYNC_EXPORT __attribute__((visibility("default")))
#else
#define CRMSYNC_EXPORT
#endif

#endif  // CRMSYNC_EXPORT_H_
