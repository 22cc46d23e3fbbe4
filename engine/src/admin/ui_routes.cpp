// The dashboard's static files; see ui_routes.h.
#include "admin/ui_routes.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <utility>

#include "common/logging.h"

namespace crmsync::engine {
namespace {

namespace fs = std::filesystem;

constexpr char kIndexFile[] = "index.html";
constexpr std::uintmax_t kMaxFileBytes = 4 * 1024 * 1024;

// The page loads only its own files and talks only to this server.
constexpr char kContentSecurityPolicy[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

bool IsDirWithIndex(const fs::path& dir) {
  std::error_code ec;
  return fs::is_directory(dir, ec) && fs::is_regular_file(dir / kIndexFile, ec);
}

// Reads `path` when it is a regular file inside `root` (after following
// symbolic links) and not larger than the limit.
bool ReadServedFile(const fs::path& root, const fs::path& path, std::string* content) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return false;
  fs::path real_root = fs::canonical(root, ec);
  if (ec) return false;
  fs::path real = fs::canonical(path, ec);
  if (ec) return false;
  auto [root_end, unused] =
      std::mismatch(real_root.begin(), real_root.end(), real.begin(), real.end());
  (void)unused;
  if (root_end != real_root.end()) return false;
  std::uintmax_t size = fs::file_size(real, ec);
  if (ec || size > kMaxFileBytes) return false;
  std::ifstream in(real, std::ios::binary);
  if (!in) return false;
  content->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return !in.bad();
}

void SendFile(HttpContext& ctx, const std::string& content, const std::string& type) {
  ctx.SetHeader("Cache-Control", "no-cache");
  ctx.SetHeader("X-Content-Type-Options", "nosniff");
  ctx.SetHeader("Referrer-Policy", "no-referrer");
  ctx.SetHeader("X-Frame-Options", "DENY");
  ctx.SetHeader("Content-Security-Policy", kContentSecurityPolicy);
  ctx.SendText(200, content, type);
}

// A file of the folder `root` on disk, or of the embedded files when `root`
// is empty.
void ServeFile(HttpContext& ctx, const fs::path& root, const std::string& relative) {
  const std::string type = UiContentType(relative);
  if (!IsSafeUiPath(relative) || type.empty()) {
    ctx.SendError(404, "no such dashboard file: " + ctx.path());
    return;
  }
  if (root.empty()) {
    for (const EmbeddedUiFile& file : EmbeddedUiFiles()) {
      if (file.path == relative) {
        SendFile(ctx, std::string(file.content), type);
        return;
      }
    }
    ctx.SendError(404, "no such dashboard file: " + ctx.path());
    return;
  }
  std::string content;
  if (!ReadServedFile(root, root / relative, &content)) {
    ctx.SendError(404, "no such dashboard file: " + ctx.path());
    return;
  }
  SendFile(ctx, content, type);
}

}  // namespace

std::string UiContentType(const std::string& file_name) {
  static const std::pair<const char*, const char*> kTypes[] = {
      {".html", "text/html; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".json", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".txt", "text/plain; charset=utf-8"},
  };
  const size_t dot = file_name.rfind('.');
  const size_t slash = file_name.rfind('/');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return "";
  std::string extension = file_name.substr(dot);
  for (char& c : extension) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const auto& [ext, type] : kTypes) {
    if (extension == ext) return type;
  }
  return "";
}

bool IsSafeUiPath(const std::string& relative) {
  if (relative.empty()) return false;
  size_t start = 0;
  while (start <= relative.size()) {
    size_t slash = relative.find('/', start);
    if (slash == std::string::npos) slash = relative.size();
    const std::string segment = relative.substr(start, slash - start);
    if (segment.empty() || segment[0] == '.') return false;
    for (unsigned char c : segment) {
      if (!std::isalnum(c) && c != '_' && c != '-' && c != '.') return false;
    }
    start = slash + 1;
  }
  return true;
}

std::string ResolveUiDir(const config::Settings& settings) {
  return settings.GetString("ui.dir");
}

void AddUiRoutes(Router& router, const std::string& ui_dir) {
  const fs::path root(ui_dir);
  if (ui_dir.empty()) {
    ComponentLogger("http").information("dashboard at /ui served from the binary (%s files)",
                                        std::to_string(EmbeddedUiFiles().size()));
  } else if (IsDirWithIndex(root)) {
    ComponentLogger("http").information("dashboard at /ui served from %s", ui_dir);
  } else {
    ComponentLogger("http").warning(
        "dashboard files not found: ui.dir %s has no index.html; /ui answers 404 (leave ui.dir "
        "empty to serve the files built into the binary)", ui_dir);
  }
  auto index = [root](HttpContext& ctx) { ServeFile(ctx, root, kIndexFile); };
  router.Add("GET", "/ui", index);
  router.Add("GET", "/ui/", index);
  // A file in the folder or in one subfolder (img/logo.svg): routes of fixed
  // depth, so the OpenAPI document can name them.
  router.Add("GET", "/ui/{file}",
             [root](HttpContext& ctx) { ServeFile(ctx, root, ctx.PathParam("file")); });
  router.Add("GET", "/ui/{folder}/{file}", [root](HttpContext& ctx) {
    ServeFile(ctx, root, ctx.PathParam("folder") + "/" + ctx.PathParam("file"));
  });
}

}  // namespace crmsync::engine
