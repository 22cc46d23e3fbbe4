// The test PostgreSQL server; see pg_server.h.
#include "pg_server.h"

#include <doctest/doctest.h>
#include <glob.h>
#include <pwd.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <vector>

#include "store/pg_db.h"
#include "test_support.h"

namespace crmsync::testing {
namespace {

bool Executable(const std::string& path) { return access(path.c_str(), X_OK) == 0; }

// The folder holding initdb and pg_ctl, "" when none is installed.
std::string FindBinDir() {
  std::string output;
  if (Executable("/usr/bin/pg_config") &&
      RunCommand("/usr/bin/pg_config", {"--bindir"}, &output) == 0) {
    while (!output.empty() && (output.back() == '\n' || output.back() == ' ')) output.pop_back();
    if (Executable(output + "/initdb") && Executable(output + "/pg_ctl")) return output;
  }
  glob_t found;
  std::string dir;
  if (glob("/usr/lib/postgresql/*/bin/initdb", 0, nullptr, &found) == 0 && found.gl_pathc > 0) {
    std::string initdb = found.gl_pathv[found.gl_pathc - 1];
    dir = initdb.substr(0, initdb.size() - std::string("/initdb").size());
  }
  globfree(&found);
  return dir;
}

class Server {
 public:
  // Starts the server; "" on success, else why not.
  std::string Start() {
    bin_ = FindBinDir();
    if (bin_.empty()) {
      return "PostgreSQL server binaries (initdb, pg_ctl) not found: install Debian's "
             "postgresql package (scripts/install-deps.sh does)";
    }
    as_root_ = geteuid() == 0;
    if (as_root_) {
      struct passwd* pw = getpwnam("postgres");
      if (!pw) return "running as root and there is no postgres user to run initdb as";
      if (chown(dir_.path().c_str(), pw->pw_uid, pw->pw_gid) != 0) return "cannot chown temp dir";
    }
    data_ = dir_.File("data");
    std::string output;
    std::string error = MakeDataDir(&output);
    if (!error.empty()) return error;
    for (int attempt = 0; attempt < 5; ++attempt) {
      port_ = FreePort();
      std::string options = "-p " + std::to_string(port_) + " -k " + dir_.path() +
                            " -c listen_addresses=127.0.0.1 -c fsync=off"
                            " -c synchronous_commit=off -c full_page_writes=off"
                            " -c max_connections=100 -c shared_buffers=16MB";
      if (Run(bin_ + "/pg_ctl",
              {"-D", data_, "-o", options, "-l", dir_.File("server.log"), "-w", "-t", "60",
               "start"},
              &output) == 0) {
        started_ = true;
        return "";
      }
    }
    return "pg_ctl start failed: " + output + "\n" + ReadFile(dir_.File("server.log"));
  }

  ~Server() {
    if (!started_) return;
    std::string output;
    Run(bin_ + "/pg_ctl", {"-D", data_, "-m", "immediate", "-w", "stop"}, &output);
  }

  // Fills data_ with a new cluster. (Copying one cluster made once per build
  // was tried: slower than initdb -N here.)
  std::string MakeDataDir(std::string* output) {
    if (Run(bin_ + "/initdb",
            {"-N", "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "-D", data_},
            output) != 0) {
      return "initdb failed: " + *output;
    }
    return "";
  }

  std::string Conninfo(const std::string& db) const {
    return "host=127.0.0.1 port=" + std::to_string(port_) + " user=postgres dbname=" + db;
  }

 private:
  int Run(const std::string& program, const std::vector<std::string>& args, std::string* out) {
    if (!as_root_) return RunCommand(program, args, out);
    std::vector<std::string> wrapped = {"-u", "postgres", "--", program};
    wrapped.insert(wrapped.end(), args.begin(), args.end());
    return RunCommand(Executable("/usr/sbin/runuser") ? "/usr/sbin/runuser" : "/sbin/runuser",
                      wrapped, out);
  }

  TempDir dir_;
  std::string bin_;
  std::string data_;
  bool as_root_ = false;
  bool started_ = false;
  int port_ = 0;
};

std::mutex g_mu;
std::unique_ptr<Server> g_server;  // stopped by its destructor at exit
std::string g_error;
std::atomic<int> g_databases{0};

}  // namespace

std::string NewPgDatabase() {
  std::string error;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    if (!g_server && g_error.empty()) {
      g_server = std::make_unique<Server>();
      g_error = g_server->Start();
      if (!g_error.empty()) g_server.reset();
    }
    error = g_error;
  }
  REQUIRE_MESSAGE(error.empty(), error);
  std::string name = "t" + std::to_string(getpid()) + "_" + std::to_string(++g_databases);
  engine::PgConn admin(g_server->Conninfo("postgres"));
  admin.ExecScript("CREATE DATABASE " + name);
  return g_server->Conninfo(name);
}

void PgExec(const std::string& conninfo, const std::string& sql) {
  engine::PgConn conn(conninfo);
  conn.ExecScript(sql);
}

PgRig::PgRig() : url(NewPgDatabase()) {
  engine::PgOptions options;
  options.url = url;
  options.pool_size = 4;
  store = engine::PgStore::Open(options);
}

std::unique_ptr<engine::PgStore> PgRig::OpenAnother(int pool_size) const {
  engine::PgOptions options;
  options.url = url;
  options.pool_size = pool_size;
  return engine::PgStore::Open(options);
}

}  // namespace crmsync::testing
