// crmsync/crmsync.h: everything an adapter author needs, in one include.
#ifndef CRMSYNC_CRMSYNC_H_
#define CRMSYNC_CRMSYNC_H_

#include "crmsync/adapter.h"
#include "crmsync/classify.h"
#include "crmsync/entities.h"
#include "crmsync/entities_json.h"
#include "crmsync/http.h"
#include "crmsync/http_transport.h"
#include "crmsync/plugin.h"
#include "crmsync/plugin_config.h"
#include "crmsync/rate_limit.h"
#include "crmsync/records.h"
#include "crmsync/redact.h"
#include "crmsync/status.h"
#include "crmsync/version.h"
#include "crmsync/webhook_verify.h"

#endif  // CRMSYNC_CRMSYNC_H_
