// Shadow mode's adapter; see shadow_plugin.h.
#include "shadow/shadow_plugin.h"

#include <Poco/Path.h>
#include <Poco/URI.h>

#include "common/clock.h"

namespace crmsync::engine {
namespace {

using Level = config::Diagnostic::Level;

std::string OneLine(std::string text) {
  for (char& c : text) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return text;
}

}  // namespace

PluginConfig ShadowPluginConfig(const config::Settings& settings) {
  const std::string name = settings.GetString("crm.shadow.plugin");
  std::map<std::string, std::string> values = settings.PluginConfigFor(name).values();
  values.erase("mapping");
  std::string mapping = settings.GetString("crm.shadow.mapping");
  if (!mapping.empty()) {
    if (!Poco::Path(mapping).isAbsolute()) {
      mapping = Poco::Path(Poco::Path::forDirectory(settings.config_dir()), mapping).toString();
    }
    values["mapping"] = mapping;
  }
  const std::string url = settings.GetString("crm.shadow.url");
  if (!url.empty()) values["api_url"] = url;
  const std::string prefix = "crm.shadow." + name + ".";
  for (const auto& [key, value] : settings.Effective(false)) {
    if (key.size() > prefix.size() && key.compare(0, prefix.size(), prefix) == 0) {
      values[key.substr(prefix.size())] = value.value;
    }
  }
  return PluginConfig(std::move(values));
}

std::unique_ptr<ShadowPlugin> LoadShadowPlugin(const config::Settings& settings,
                                               const std::string& plugins_dir,
                                               std::vector<config::Diagnostic>* problems) {
  const std::string name = settings.GetString("crm.shadow.plugin");
  if (name.empty()) {
    for (const char* key : {"crm.shadow.mapping", "crm.shadow.url"}) {
      if (!settings.GetString(key).empty()) {
        problems->push_back({Level::kError, key,
                             std::string(key) + " is set but crm.shadow.plugin is not: shadow "
                                                "mode needs the plugin to run"});
      }
    }
    return nullptr;
  }
  const std::string url = settings.GetString("crm.shadow.url");
  if (!url.empty()) {
    bool ok = false;
    try {
      Poco::URI uri(url);
      ok = (uri.getScheme() == "http" || uri.getScheme() == "https") && !uri.getHost().empty();
    } catch (const Poco::Exception&) {
    }
    if (!ok) {
      problems->push_back({Level::kError, "crm.shadow.url",
                           "crm.shadow.url: '" + url +
                               "' is not an http:// or https:// URL with a host"});
      return nullptr;
    }
  }
  std::string error;
  auto shadow = std::make_unique<ShadowPlugin>();
  shadow->plugin = LoadedPlugin::Load(plugins_dir, name, &error);
  if (!shadow->plugin) {
    problems->push_back({Level::kError, "crm.shadow.plugin", OneLine("crm.shadow.plugin: " + error)});
    return nullptr;
  }
  shadow->states = std::make_unique<MemoryPluginStates>();
  shadow->host = std::make_unique<StorePluginHost>("crmsync.shadow:" + name, shadow->states.get(),
                                                   &SystemClock::Instance());
  // A refusal is about the mapping when one is given (generic-rest-crm's
  // every mistake in it), else about the plugin's settings.
  const char* key = settings.GetString("crm.shadow.mapping").empty() ? "crm.shadow.plugin"
                                                                     : "crm.shadow.mapping";
  std::vector<std::string> refusal;
  if (!shadow->plugin->Configure(ShadowPluginConfig(settings), &refusal, shadow->host.get())) {
    for (const std::string& problem : refusal) {
      problems->push_back({Level::kError, key, OneLine(std::string(key) + ": " + problem)});
    }
    return nullptr;
  }
  return shadow;
}

}  // namespace crmsync::engine
