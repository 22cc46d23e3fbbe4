// app/application.h: the `crmsync` binary (a Poco ServerApplication).
//
// Usage: crmsync [serve|check-config|plugins|crm-dump|status|sync|jobs|dlq ...]
//                [--config FILE] [--set key=value]... [--help] [--version]
// Options are read by Poco's option processor; the first free argument is the
// command (the admin commands take more words; see admin_cli.h). Single-threaded until `serve` starts the service.
#ifndef CRMSYNC_ENGINE_APP_APPLICATION_H_
#define CRMSYNC_ENGINE_APP_APPLICATION_H_

#include <string>
#include <vector>

#include <Poco/Util/ServerApplication.h>

#include "app/reconcile_cli.h"

#include "config/settings.h"

namespace crmsync::engine {

class CrmsyncApplication : public Poco::Util::ServerApplication {
 public:
  CrmsyncApplication();

 protected:
  void initialize(Poco::Util::Application& self) override;
  void defineOptions(Poco::Util::OptionSet& options) override;
  int main(const std::vector<std::string>& args) override;

 private:
  void PrintHelp();
  void HandleHelp(const std::string& name, const std::string& value);
  void HandleVersion(const std::string& name, const std::string& value);
  void HandleConfig(const std::string& name, const std::string& value);
  void HandleSet(const std::string& name, const std::string& value);
  void HandleLive(const std::string& name, const std::string& value);
  // backfill's options (app/backfill_cli.h).
  void HandleBackfillOption(const std::string& name, const std::string& value);
  /// --repair, --all, --no-wait (reconcile, resync).
  void HandleRunFlag(const std::string& name, const std::string& value);
  void HandleNoWait(const std::string& name, const std::string& value);
  int Serve(const config::Settings& settings);

  bool help_requested_ = false;
  bool version_requested_ = false;
  bool live_ = false;  ///< --live: plugin-check also checks the connection.
  RunFlags run_flags_;  ///< --repair, --all, --no-wait (app/reconcile_cli.h).
  // backfill: --strict, --run ID, --no-wait; which of them were given.
  bool backfill_strict_ = false;
  bool backfill_no_wait_ = false;
  std::string backfill_run_;
  bool backfill_option_given_ = false;
  std::string config_file_;
  std::vector<std::string> overrides_;
};

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_APP_APPLICATION_H_
