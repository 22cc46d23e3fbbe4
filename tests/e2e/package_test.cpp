// The Debian package (cmake/crmsync_package.cmake): `cpack -G DEB` builds
// crmsync_<version>_<arch>.deb; Debian's dpkg-deb reads its control data and
// unpacks it into a scratch root; the binary runs from that installed layout
// (/usr/bin/crmsync finding /usr/lib/crmsync/plugins relative to itself, the
// dashboard built in), the shipped /etc/crmsync config passes check-config
// there, and systemd-analyze verifies the shipped unit when systemd is
// installed (skipped with a message when it is not).
//
// cpack (with CMake) and dpkg-deb (on every Debian) are required: when either
// is missing the test fails saying so. The package is built into a temp folder,
// so parallel runs and the build folder's own cpack runs do not meet.
#include <doctest/doctest.h>

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <regex>
#include <sstream>

#include "test_support.h"

namespace t = crmsync::testing;
namespace fs = std::filesystem;

namespace {

const std::string kCpack = CRMSYNC_CPACK;
const std::string kDpkgDeb = "/usr/bin/dpkg-deb";
const std::string kVersion = CRMSYNC_PROJECT_VERSION;

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string Trim(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// The package built once per test process, unpacked into a scratch root.
struct Package {
  Package() {
    REQUIRE_MESSAGE(access(kCpack.c_str(), X_OK) == 0, (kCpack + " is missing (it comes with CMake)"));
    REQUIRE_MESSAGE(access(kDpkgDeb.c_str(), X_OK) == 0,
                    (kDpkgDeb + " is missing: install Debian's dpkg package"));
    std::string arch;
    REQUIRE(t::RunCommand("/usr/bin/dpkg", {"--print-architecture"}, &arch) == 0);
    deb = out.File("crmsync_" + kVersion + "_" + Trim(arch) + ".deb");
    std::string output;
    int rc = t::RunCommand(kCpack, {"-G", "DEB", "--config", CRMSYNC_BINARY_DIR "/CPackConfig.cmake",
                                    "-B", out.path()},
                           &output);
    REQUIRE_MESSAGE(rc == 0, output);
    REQUIRE_MESSAGE(fs::exists(deb), "no " << deb << " after cpack:\n" << output);
    REQUIRE(t::RunCommand(kDpkgDeb, {"-x", deb, root.path()}, &output) == 0);
    REQUIRE(t::RunCommand(kDpkgDeb, {"-e", deb, control.path()}, &output) == 0);
    binary = root.File("usr/bin/crmsync");
  }
  t::TempDir out;
  t::TempDir root;
  t::TempDir control;
  std::string deb;
  std::string binary;
};

Package& Built() {
  static Package package;
  return package;
}

// The shipped /etc/crmsync with what postinst would add (token files), for
// check-config; the CRM credentials come from the environment (crmsync.env).
const std::map<std::string, std::string> kCrmEnvironment = {
    {"CRM_API_KEY", "pkg-api-key-123"},
    {"CRM_API_SECRET", "pkg-api-secret-456"},
    {"CRM_WEBHOOK_SECRET", "pkg-webhook-secret-789"}};

}  // namespace

TEST_SUITE("e2e.package") {
  TEST_CASE("cpack builds crmsync_<version>_<arch>.deb with the binary, plugins, SDK, unit and conffiles") {
    Package& p = Built();
    std::string info;
    REQUIRE(t::RunCommand(kDpkgDeb, {"-I", p.deb}, &info) == 0);
    CHECK(Contains(info, "Package: crmsync\n"));
    CHECK(Contains(info, "Version: " + kVersion + "\n"));
    std::smatch depends;
    REQUIRE_MESSAGE(std::regex_search(info, depends, std::regex(R"(\n Depends: ([^\n]*)\n)")), info);
    CHECK(Contains(depends[1], "adduser"));
    if (access("/usr/bin/dpkg-shlibdeps", X_OK) == 0) {
      CHECK_MESSAGE(Contains(depends[1], "libpoco"), depends[1]);
    }

    std::string listing;
    REQUIRE(t::RunCommand(kDpkgDeb, {"-c", p.deb}, &listing) == 0);
    for (const char* path :
         {"./usr/bin/crmsync", "./usr/lib/crmsync/plugins/mock-crm",
          "./usr/lib/crmsync/plugins/generic-rest-crm", "./usr/share/crmsync/crms/sunshine-reference.json",
          "./usr/lib/systemd/system/crmsync.service", "./usr/include/crmsync/",
          "./usr/lib/cmake/crmsync/crmsyncConfig.cmake", "./etc/crmsync/crmsync.properties",
          "./etc/crmsync/crms/sunshine-reference.json"}) {
      CAPTURE(path);
      CHECK(Contains(listing, std::string(path)));
    }
    CHECK(fs::exists(p.root.File("usr/share/crmsync/template/CMakeLists.txt")));

    // The configuration is the operator's: conffiles, kept on upgrade.
    const std::string conffiles = t::ReadFile(p.control.File("conffiles"));
    CHECK(Contains(conffiles, "/etc/crmsync/crmsync.properties\n"));
    CHECK(Contains(conffiles, "/etc/crmsync/crms/sunshine-reference.json\n"));
    CHECK(t::ReadFile(p.root.File("etc/crmsync/crmsync.properties")) ==
          t::ReadFile(CRMSYNC_SOURCE_DIR "/deploy/crmsync.production.properties"));
    // The maintainer scripts are valid sh; postinst creates the service user.
    for (const char* script : {"postinst", "prerm", "postrm"}) {
      CAPTURE(script);
      std::string output;
      CHECK(fs::status(p.control.File(script)).permissions() == fs::perms(0755));
      CHECK_MESSAGE(t::RunCommand("/bin/sh", {"-n", p.control.File(script)}, &output) == 0, output);
    }
    CHECK(Contains(t::ReadFile(p.control.File("postinst")), "adduser --system"));
  }

  TEST_CASE("the unpacked binary runs: --version, --help under 80 columns, plugins") {
    Package& p = Built();
    std::string output;
    REQUIRE(t::RunCommand(p.binary, {"--version"}, &output) == 0);
    CHECK(Contains(output, "crmsync " + kVersion + " (SDK ABI"));

    REQUIRE(t::RunCommand(p.binary, {"--help"}, &output) == 0);
    CHECK(Contains(output, "Commands:"));
    CHECK(Contains(output, "dlq replay"));
    std::istringstream lines(output);
    std::string line;
    std::string previous;
    while (std::getline(lines, line)) {
      CAPTURE(line);
      CHECK(line.size() < 80);
      // A wrapped line continues its entry indented; it never starts at
      // column 0 in the middle of the commands' text.
      if (!previous.empty() && previous.rfind("                 ", 0) == 0) {
        CHECK((line.empty() || line[0] == ' '));
      }
      previous = line;
    }

    // plugins.dir empty: <bin>/../lib/crmsync/plugins of the unpacked tree.
    t::TempDir work;
    const std::string config = work.File("crmsync.properties");
    t::WriteFile(config, "log.level = warning\n");
    REQUIRE_MESSAGE(t::RunCommand(p.binary, {"plugins", "--config", config}, &output) == 0, output);
    CHECK(Contains(output, "mock-crm"));
    CHECK(Contains(output, "generic-rest-crm"));
    CHECK_MESSAGE(Contains(output, fs::canonical(p.root.File("usr/lib/crmsync/plugins")).string()),
                  output);
  }

  TEST_CASE("the shipped /etc/crmsync config passes check-config in the installed layout") {
    Package& p = Built();
    // What postinst adds: one token file per API.
    fs::create_directories(p.root.File("etc/crmsync/secrets"));
    t::WriteFile(p.root.File("etc/crmsync/secrets/intake.token"),
                 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n");
    t::WriteFile(p.root.File("etc/crmsync/secrets/admin.token"),
                 "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210\n");
    std::string output;
    int rc = t::RunCommand(
        p.binary, {"check-config", "--config", p.root.File("etc/crmsync/crmsync.properties")},
        &output, kCrmEnvironment);
    CHECK_MESSAGE(rc == 0, output);
    CHECK(Contains(output, "ok: plugin generic-rest-crm"));
    CHECK(Contains(output, "0 error(s), 0 warning(s)"));
  }

  TEST_CASE("the unpacked binary serves, dashboard included, and stops on SIGTERM") {
    Package& p = Built();
    t::TempDir work;
    const int port = t::FreePort();
    const std::string config = work.File("crmsync.properties");
    t::WriteFile(config, "server.host = 127.0.0.1\nserver.port = " + std::to_string(port) +
                             "\nstore.path = " + work.File("var/crmsync.db") +
                             "\ncrm.plugin = mock-crm\nadmin.token = admin-secret-pkg\n"
                             "intake.token = intake-secret-pkg\nlog.level = information\n");
    t::ChildProcess serve(p.binary, {"serve", "--config", config});
    REQUIRE_MESSAGE(t::WaitUntil([&] { return t::HttpCall(port, "GET", "/healthz").status == 200; }),
                    serve.Stderr());
    t::HttpResult ui = t::HttpCall(port, "GET", "/ui/");
    CHECK(ui.status == 200);
    CHECK(ui.body == t::ReadFile(CRMSYNC_SOURCE_DIR "/ui/index.html"));
    CHECK(t::HttpCall(port, "GET", "/ui/app.js").status == 200);
    CHECK(Contains(serve.Stderr() + serve.Stdout(), "loaded plugin mock-crm"));
    serve.Signal(SIGTERM);
    REQUIRE(serve.WaitExit(std::chrono::seconds(30)));
    CHECK_MESSAGE(serve.exit_code() == 0, serve.Stderr());
    CHECK(fs::exists(work.File("var/crmsync.db")));
  }

  TEST_CASE("the shipped unit runs /usr/bin/crmsync as crmsync with state in /var/lib/crmsync") {
    Package& p = Built();
    const std::string unit = t::ReadFile(p.root.File("usr/lib/systemd/system/crmsync.service"));
    const std::string exec =
        "\nExecStart=/usr/bin/crmsync serve --config /etc/crmsync/crmsync.properties\n";
    CHECK(Contains(unit, exec));
    CHECK(Contains(unit, "\nUser=crmsync\n"));
    CHECK(Contains(unit, "\nStateDirectory=crmsync\n"));
    CHECK(Contains(unit, "\nEnvironmentFile=/etc/crmsync/crmsync.env\n"));
    if (access("/usr/bin/systemd-analyze", X_OK) != 0) {
      MESSAGE("systemd-analyze not installed: the packaged unit's syntax is not verified");
      return;
    }
    // The unpacked binary stands in for /usr/bin/crmsync (verify checks it exists).
    t::TempDir dir;
    std::string copy = unit;
    const std::string installed = "\nExecStart=/usr/bin/crmsync ";
    copy.replace(copy.find(installed), installed.size(), "\nExecStart=" + p.binary + " ");
    t::WriteFile(dir.File("crmsync.service"), copy);
    std::string output;
    int rc = t::RunCommand("/usr/bin/systemd-analyze", {"verify", dir.File("crmsync.service")},
                           &output);
    CHECK_MESSAGE(rc == 0, output);
  }
}
