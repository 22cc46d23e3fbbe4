// admin/ui_routes.h: the operator's dashboard at /ui: static HTML, CSS and JS
// files from a folder on disk (the tree's ui/), served as they are. The page
// itself calls the admin API and /metrics from the browser with the admin token
// the operator types in; serving the files needs no token, since they hold no
// data.
//
// Files are read from disk on every request (no cache), so a changed file is
// served without a restart. Only plain names in the folder or one subfolder are
// served (GET /ui/{file}, /ui/{folder}/{file}; segments of [A-Za-z0-9_.-] not
// starting with '.'), so '..', deeper paths, hidden files and percent-escapes
// are refused with 404; so are file types not in the Content-Type table.
//
// The handlers hold only the folder's path; they are thread-safe.
#ifndef CRMSYNC_ENGINE_ADMIN_UI_ROUTES_H_
#define CRMSYNC_ENGINE_ADMIN_UI_ROUTES_H_

#include <string>

#include "config/settings.h"
#include "http/router.h"

namespace crmsync::engine {

/// ui.dir, or when empty the first folder holding an index.html of
/// <folder of the binary>/../share/crmsync/ui (install layout), then the source
/// tree's ui/ above a build folder (<bin>/../../ui or <bin>/../../../ui, taken
/// only next to a CMakeLists.txt). When none exists, the install path, so the
/// start-up warning names where the files are expected.
std::string ResolveUiDir(const config::Settings& settings);

/// Adds GET /ui and GET /ui/ (index.html) and GET /ui/<file> served from
/// `ui_dir`. Logs the folder at information, or a warning when it has no
/// index.html (the routes then answer 404).
void AddUiRoutes(Router& router, const std::string& ui_dir);

/// The Content-Type for a file name by its extension, or "" when the type is
/// not served. Exposed for tests.
std::string UiContentType(const std::string& file_name);

/// True when `relative` (the part of the path after "/ui/") names a file the
/// routes may serve: non-empty '/'-separated segments of [A-Za-z0-9_.-], none
/// starting with '.'. Exposed for tests.
bool IsSafeUiPath(const std::string& relative);

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_ADMIN_UI_ROUTES_H_
