// The real `crmsync` binary meeting bad plugin files and bad mapping files:
// a half-copied plugin (the real mock-crm cut at 100 kB), an empty file, a
// text file named .so and a plugin under another file name are each named
// with their cause by `plugins`, `serve` and `plugin-check` (no SIGBUS, no
// exit 134); a generic-rest-crm mapping with several mistakes is listed one
// problem per line, with a count equal to the lines, by check-config, serve
// and plugin-check; a JSON syntax error is given by line and column.
#include <doctest/doctest.h>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <sstream>

#include "test_support.h"

namespace t = crmsync::testing;

namespace {

const std::string kBinary = CRMSYNC_BINARY;

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// A plugin folder with one good plugin and four bad files.
struct PluginFolder {
  PluginFolder() {
    const std::string mock = t::ReadFile(CRMSYNC_PLUGIN_DIR "/mock-crm");
    REQUIRE(mock.size() > 100 * 1024);
    t::WriteFile(dir.File("mock-crm"), mock);
    t::WriteFile(dir.File("half-copied"), mock.substr(0, 100 * 1024));
    t::WriteFile(dir.File("empty"), "");
    t::WriteFile(dir.File("notes.so"), "release notes, not a plugin\n");
    t::WriteFile(dir.File("renamed"), mock);
  }
  std::string Path(const std::string& name) const { return dir.File(name); }
  t::TempDir dir;
};

// A mapping that is sound but for three mistakes.
const char kThreeMistakes[] = R"({
  "name": "three-mistakes",
  "descripton": "a typo",
  "statusMap": {"lead": {"NEW": "new", "CONTACTED": "contacted", "QUALIFIED": "qualified",
                         "VIEWING_SCHEDULED": "viewing", "VIEWED": "viewing",
                         "NEGOTIATING": "negotiating", "CONVERTED": "won", "LOST": "lost"}},
  "entities": {"lead": {"operations": {
    "create": {"method": "POST", "path": "/leads", "body": {"name": {"$from": "name", "$transform": "uper"}}},
    "update": {"method": "PUT", "path": "/leads/{externalId}", "bdy": {"name": "{{name}}"}}
  }}}
})";

std::vector<std::string> GenericRestArgs(const std::string& command, const std::string& mapping) {
  return {command,
          "--set",
          "plugins.dir=" CRMSYNC_PLUGIN_DIR,
          "--set",
          "crm.plugin=generic-rest-crm",
          "--set",
          "crm.api.url=http://127.0.0.1:1",
          "--set",
          "crm.api.key=k",
          "--set",
          "crm.mapping=" + mapping};
}

}  // namespace

TEST_SUITE("e2e.plugin_files") {
  TEST_CASE("`crmsync plugins` names each bad file, lists the good one and exits 1") {
    PluginFolder folder;
    std::string output;
    int rc =
        t::RunCommand(kBinary, {"plugins", "--set", "plugins.dir=" + folder.dir.path()}, &output);
    INFO(output);
    CHECK(rc == 1);
    CHECK(Contains(output, "mock-crm 1.0.0  ABI"));
    CHECK(Contains(output, "BROKEN " + folder.Path("half-copied") + ": cannot load " +
                               folder.Path("half-copied") +
                               " as a shared library: the file is truncated"));
    CHECK(Contains(output, "BROKEN " + folder.Path("empty") + ": cannot load " +
                               folder.Path("empty") + " as a shared library: the file is empty"));
    CHECK(Contains(output, "BROKEN " + folder.Path("notes.so") + ": cannot load " +
                               folder.Path("notes.so") +
                               " as a shared library: not an ELF file (it starts with "
                               "\"release notes, n...\")"));
    // Listed as serve would load it: the file must be named after its plugin.
    CHECK(Contains(output, "BROKEN " + folder.Path("renamed") + ": " + folder.Path("renamed") +
                               " declares plugin name 'mock-crm', not 'renamed'"));
    CHECK(Contains(output, "1 usable, 4 broken"));

    rc = t::RunCommand(kBinary, {"plugins", "json", "--set", "plugins.dir=" + folder.dir.path()},
                       &output);
    CHECK(rc == 1);
    auto json = Poco::JSON::Parser().parse(output).extract<Poco::JSON::Object::Ptr>();
    auto plugins = json->getArray("plugins");
    REQUIRE(plugins->size() == 5);
    int broken = 0;
    for (unsigned i = 0; i < plugins->size(); ++i) {
      auto plugin = plugins->getObject(i);
      if (!plugin->getValue<bool>("ok")) {
        ++broken;
        CHECK(Contains(plugin->getValue<std::string>("error"),
                       plugin->getValue<std::string>("file")));
      }
    }
    CHECK(broken == 4);

    // A folder of good plugins only: exit 0.
    rc = t::RunCommand(kBinary, {"plugins", "--set", "plugins.dir=" CRMSYNC_PLUGIN_DIR}, &output);
    CHECK_MESSAGE(rc == 0, output);
  }

  TEST_CASE("serve with a half-copied or renamed plugin exits 78 naming the file and the cause") {
    PluginFolder folder;
    t::TempDir store;
    std::string output;
    auto serve = [&](const std::string& plugin) {
      return t::RunCommand(kBinary,
                           {"serve", "--set", "plugins.dir=" + folder.dir.path(), "--set",
                            "crm.plugin=" + plugin, "--set", "store.path=" + store.File("db"),
                            "--set", "server.port=" + std::to_string(t::FreePort())},
                           &output);
    };
    CHECK(serve("half-copied") == 78);  // not 134 (SIGBUS in dlopen)
    CHECK(Contains(output, "cannot start: crm.plugin: cannot load " + folder.Path("half-copied") +
                               " as a shared library: the file is truncated (an unfinished "
                               "copy?)"));
    CHECK(serve("empty") == 78);
    CHECK(Contains(output, folder.Path("empty") + " as a shared library: the file is empty"));
    CHECK(serve("renamed") == 78);
    CHECK(Contains(output, "declares plugin name 'mock-crm', not 'renamed'"));
  }

  TEST_CASE("plugin-check on a half-copied or text file names the problem and exits 1") {
    PluginFolder folder;
    std::string output;
    int rc = t::RunCommand(kBinary, {"plugin-check", folder.Path("half-copied")}, &output);
    CHECK(rc == 1);
    CHECK(Contains(output, "FAIL  loads: cannot load " + folder.Path("half-copied") +
                               " as a shared library: the file is truncated"));
    rc = t::RunCommand(kBinary,
                       {"plugin-check", "notes.so", "--set", "plugins.dir=" + folder.dir.path()},
                       &output);
    CHECK(rc == 1);
    CHECK(Contains(output, "not an ELF file"));
  }

  TEST_CASE("check-config lists each mapping mistake on its own line and counts them") {
    t::TempDir dir;
    t::WriteFile(dir.File("crm.json"), kThreeMistakes);
    std::string output;
    int rc = t::RunCommand(kBinary, GenericRestArgs("check-config", dir.File("crm.json")), &output);
    INFO(output);
    CHECK(rc == 1);
    const std::vector<std::string> errors = t::LinesStartingWith(output, "error: ");
    CHECK(errors.size() == 3);
    CHECK(Contains(output, "\n3 error(s), "));
    const std::string prefix = "error: crm.plugin: plugin 'generic-rest-crm' (" CRMSYNC_PLUGIN_DIR
                               "/generic-rest-crm) refused its configuration: mapping: " +
                               dir.File("crm.json") + ": ";
    CHECK(Contains(output, prefix + "/descripton: unknown key; did you mean 'description'?"));
    CHECK(Contains(output, prefix +
                               "/entities/lead/operations/create/body/name/$transform: unknown "
                               "transform 'uper'; did you mean 'upper'? (valid: status, "));
    CHECK(Contains(output, prefix +
                               "/entities/lead/operations/update/bdy: unknown key; did you mean "
                               "'body'?"));

    // json: the same three problems, the same count.
    std::vector<std::string> args = GenericRestArgs("check-config", dir.File("crm.json"));
    args.push_back("json");
    rc = t::RunCommand(kBinary, args, &output);
    CHECK(rc == 1);
    auto json = Poco::JSON::Parser().parse(output).extract<Poco::JSON::Object::Ptr>();
    CHECK(json->getValue<int>("errors") == 3);
    int listed = 0;
    auto problems = json->getArray("problems");
    for (unsigned i = 0; i < problems->size(); ++i) {
      if (problems->getObject(i)->getValue<std::string>("level") == "error") ++listed;
    }
    CHECK(listed == 3);

    // A JSON syntax error: one problem, with its line and column.
    t::WriteFile(dir.File("crm.json"), "{\n  \"name\": \"x\"\n  \"entities\": {}\n}\n");
    rc = t::RunCommand(kBinary, GenericRestArgs("check-config", dir.File("crm.json")), &output);
    CHECK(rc == 1);
    CHECK(Contains(output, "mapping: " + dir.File("crm.json") +
                               ": line 3, column 3: not valid JSON: expected ',' or '}' after the "
                               "value of \"name\", found '\"' (a comma missing?)"));
    CHECK(t::LinesStartingWith(output, "error: ").size() == 1);
    CHECK(Contains(output, "\n1 error(s), "));
  }

  TEST_CASE("serve and plugin-check list the mapping's mistakes one per line with a count") {
    t::TempDir dir;
    t::WriteFile(dir.File("crm.json"), kThreeMistakes);
    std::string output;
    std::vector<std::string> args = GenericRestArgs("serve", dir.File("crm.json"));
    args.insert(args.end(), {"--set", "store.path=" + dir.File("db"), "--set",
                             "server.port=" + std::to_string(t::FreePort())});
    int rc = t::RunCommand(kBinary, args, &output);
    INFO(output);
    CHECK(rc == 78);
    // One "cannot start" line per mistake (the start checks list each problem).
    const std::string refused = "crmsync: cannot start: crm.plugin: plugin 'generic-rest-crm' (" CRMSYNC_PLUGIN_DIR
                                "/generic-rest-crm) refused its configuration: mapping: " +
                                dir.File("crm.json") + ": /";
    CHECK(Contains(output, refused + "descripton: unknown key"));
    CHECK(t::LinesStartingWith(output, refused).size() == 3);

    // The arguments name the plugin first, then its settings.
    std::vector<std::string> check = {"plugin-check", "generic-rest-crm"};
    const std::vector<std::string> settings = GenericRestArgs("", dir.File("crm.json"));
    check.insert(check.end(), settings.begin() + 1, settings.end());
    rc = t::RunCommand(kBinary, check, &output);
    CHECK(rc == 1);
    CHECK(Contains(
        output,
        "FAIL  configure accepts given config: invalid_config: 3 problems:\n        mapping: " +
            dir.File("crm.json") + ": /descripton: unknown key"));
    CHECK(t::LinesStartingWith(output, "        mapping: " + dir.File("crm.json") + ": /").size() ==
          3);
  }
}
