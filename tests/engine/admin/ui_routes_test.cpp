// admin/ui_routes: which paths the dashboard serves, with which Content-Type,
// that nothing outside its folder is reachable, over a real HTTP server, and
// that the files built into the binary are the tree's ui/ files.
#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "admin/ui_routes.h"
#include "config/settings.h"
#include "http/router.h"
#include "http/server.h"
#include "test_support.h"

using crmsync::engine::AddUiRoutes;
using crmsync::engine::EmbeddedUiFiles;
using crmsync::engine::HttpServer;
using crmsync::engine::HttpServerOptions;
using crmsync::engine::IsSafeUiPath;
using crmsync::engine::ResolveUiDir;
using crmsync::engine::Router;
using crmsync::engine::UiContentType;
using crmsync::testing::HttpCall;
using crmsync::testing::ReadFile;
using crmsync::testing::TempDir;
using crmsync::testing::WriteFile;
namespace config = crmsync::config;
namespace fs = std::filesystem;

namespace {

// The /ui routes for `ui_dir` ("" for the built-in files) on a real server on
// loopback, stopped when it goes.
class UiServer {
 public:
  explicit UiServer(const std::string& ui_dir) : router_(std::make_shared<Router>()) {
    AddUiRoutes(*router_, ui_dir);
    HttpServerOptions options;
    options.port = crmsync::testing::FreePort();
    options.threads = 2;
    server_ = std::make_unique<HttpServer>(options, router_);
    server_->Start();
  }
  ~UiServer() { server_->Stop(); }
  int port() const { return server_->port(); }

 private:
  std::shared_ptr<Router> router_;
  std::unique_ptr<HttpServer> server_;
};

}  // namespace

TEST_SUITE("admin.ui_routes") {
  TEST_CASE("only plain relative names are safe") {
    for (const char* ok : {"index.html", "app.js", "img/logo.svg", "a-b_c.1.css"}) {
      CAPTURE(ok);
      CHECK(IsSafeUiPath(ok));
    }
    for (const char* bad :
         {"", "..", "../x.js", "a/../x.js", "/etc/passwd", "a//b.js", "a/", ".hidden.js", "./x.js",
          "a/.git/config", "%2e%2e/x.js", "a\\..\\x.js", "x.js?y", "sp ace.js"}) {
      CAPTURE(bad);
      CHECK_FALSE(IsSafeUiPath(bad));
    }
  }

  TEST_CASE("Content-Type follows the extension, unknown types are not served") {
    CHECK(UiContentType("index.html") == "text/html; charset=utf-8");
    CHECK(UiContentType("app.js") == "text/javascript; charset=utf-8");
    CHECK(UiContentType("style.CSS") == "text/css; charset=utf-8");
    CHECK(UiContentType("logo.svg") == "image/svg+xml");
    CHECK(UiContentType("README").empty());
    CHECK(UiContentType("a.d/README").empty());
    CHECK(UiContentType("crmsync.db").empty());
    CHECK(UiContentType("app.js.map").empty());
  }

  TEST_CASE("ui.dir, when set, is the folder") {
    TempDir dir;
    config::LoadOptions load;
    load.config_file = dir.File("c.properties");
    WriteFile(load.config_file, "ui.dir = /srv/dashboard\n");
    std::vector<config::Diagnostic> diagnostics;
    config::Settings settings = config::Settings::Load(load, &diagnostics);
    CHECK(diagnostics.empty());
    CHECK(ResolveUiDir(settings) == "/srv/dashboard");
  }

  TEST_CASE("an empty ui.dir (the default) means the built-in files") {
    TempDir dir;
    config::LoadOptions load;
    load.config_file = dir.File("c.properties");
    WriteFile(load.config_file, "log.level = warning\n");
    std::vector<config::Diagnostic> diagnostics;
    config::Settings settings = config::Settings::Load(load, &diagnostics);
    CHECK(ResolveUiDir(settings).empty());
  }

  TEST_CASE("the built-in files are every file of ui/, each of a served type") {
    std::vector<std::string> on_disk;
    for (const auto& entry : fs::recursive_directory_iterator(CRMSYNC_SOURCE_DIR "/ui")) {
      if (entry.is_regular_file()) {
        on_disk.push_back(fs::relative(entry.path(), CRMSYNC_SOURCE_DIR "/ui").generic_string());
      }
    }
    std::sort(on_disk.begin(), on_disk.end());
    std::vector<std::string> embedded;
    for (const auto& file : EmbeddedUiFiles()) {
      const std::string path(file.path);
      CAPTURE(path);
      embedded.push_back(path);
      CHECK(IsSafeUiPath(path));
      CHECK_FALSE(UiContentType(path).empty());
      CHECK(std::string(file.content) == ReadFile(std::string(CRMSYNC_SOURCE_DIR "/ui/") + path));
    }
    CHECK(embedded == on_disk);
    CHECK(std::find(embedded.begin(), embedded.end(), "index.html") != embedded.end());
  }

  TEST_CASE("cmake/embed_ui.py refuses what the routes would not serve, naming the file") {
    const std::string script = CRMSYNC_SOURCE_DIR "/cmake/embed_ui.py";
    struct Bad {
      std::vector<std::string> files;
      std::string expected;
    };
    const Bad cases[] = {
        {{"index.html", "notes.md"}, "notes.md: a file type the dashboard routes do not serve"},
        {{"index.html", "a/b/c.js"}, "a/b/c.js: deeper than one subfolder"},
        {{"index.html", "sp ace.js"}, "sp ace.js: not a plain name"},
        {{"index.html", ".hidden.js"}, ".hidden.js: not a plain name"},
        {{"app.js"}, "no index.html among the dashboard files"},
    };
    for (const Bad& bad : cases) {
      CAPTURE(bad.expected);
      TempDir ui;
      std::vector<std::string> args = {"python3", script, ui.path(), ui.File("out.cpp")};
      for (const std::string& file : bad.files) {
        fs::create_directories(fs::path(ui.File(file)).parent_path());
        WriteFile(ui.File(file), "x");
        args.push_back(file);
      }
      std::string output;
      CHECK(crmsync::testing::RunCommand("/usr/bin/env", args, &output) != 0);
      CHECK_MESSAGE(output.find(bad.expected) != std::string::npos, output);
      CHECK_FALSE(fs::exists(ui.File("out.cpp")));
    }
  }

  TEST_CASE("with no folder the built-in files are served, and only those") {
    UiServer server("");
    const int port = server.port();
    auto index = HttpCall(port, "GET", "/ui/");
    CHECK(index.status == 200);
    CHECK(index.headers["Content-Type"] == "text/html; charset=utf-8");
    CHECK(index.body == ReadFile(CRMSYNC_SOURCE_DIR "/ui/index.html"));
    CHECK(index.headers["Content-Security-Policy"].find("script-src 'self'") != std::string::npos);
    CHECK(HttpCall(port, "GET", "/ui").body == index.body);
    auto css = HttpCall(port, "GET", "/ui/style.css");
    CHECK(css.status == 200);
    CHECK(css.headers["Content-Type"] == "text/css; charset=utf-8");
    for (const char* path : {"/ui/missing.js", "/ui/../CMakeLists.txt", "/ui/img/app.js",
                             "/ui/.hidden.js", "/ui/README"}) {
      CAPTURE(path);
      CHECK(HttpCall(port, "GET", path).status == 404);
    }
  }

  TEST_CASE("files are served from the folder and nothing outside it") {
    TempDir outside;
    WriteFile(outside.File("secret.js"), "top secret");
    TempDir root;
    WriteFile(root.File("index.html"), "<!doctype html><p>hi</p>");
    WriteFile(root.File("app.js"), "console.log(1);");
    fs::create_directories(root.File("img"));
    WriteFile(root.File("img/logo.svg"), "<svg/>");
    WriteFile(root.File("notes.md"), "not served");
    REQUIRE(symlink(outside.File("secret.js").c_str(), root.File("leak.js").c_str()) == 0);

    UiServer server(root.path());
    const int port = server.port();

    auto index = HttpCall(port, "GET", "/ui");
    CHECK(index.status == 200);
    CHECK(index.body == "<!doctype html><p>hi</p>");
    CHECK(index.headers["Content-Type"] == "text/html; charset=utf-8");
    CHECK(index.headers["Cache-Control"] == "no-cache");
    CHECK(HttpCall(port, "GET", "/ui/").body == index.body);
    CHECK(HttpCall(port, "GET", "/ui/index.html?x=1").body == index.body);
    auto js = HttpCall(port, "GET", "/ui/app.js");
    CHECK(js.status == 200);
    CHECK(js.body == "console.log(1);");
    CHECK(js.headers["Content-Type"] == "text/javascript; charset=utf-8");
    CHECK(HttpCall(port, "GET", "/ui/img/logo.svg").headers["Content-Type"] == "image/svg+xml");

    for (const char* path : {"/ui/missing.js", "/ui/notes.md", "/ui/leak.js", "/ui/../secret.js",
                             "/ui/img/../app.js", "/ui//tmp/x.js", "/ui/img"}) {
      CAPTURE(path);
      auto refused = HttpCall(port, "GET", path);
      CHECK(refused.status == 404);
      CHECK(refused.body.find("top secret") == std::string::npos);
    }
  }
}
