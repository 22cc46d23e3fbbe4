// The test PostgreSQL server; see pg_server.h.
#include "pg_server.h"

#include <doctest/doctest.h>
#include <glob.h>
#include <pwd.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <random>
#include <cstdlib>
#include <mutex>
#include <vector>

#include <Poco/File.h>

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
  // A server in a temp folder of its own (removed with it).
  Server() : owned_dir_(std::make_unique<TempDir>()), root_(owned_dir_->path()) {}
  // A server in `dir` (the ctest fixture's), which must exist.
  explicit Server(std::string dir) : root_(std::move(dir)) {}

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
      if (chown(root_.c_str(), pw->pw_uid, pw->pw_gid) != 0) return "cannot chown " + root_;
    }
    data_ = root_ + "/data";
    std::string output;
    std::string error = MakeDataDir(&output);
    if (!error.empty()) return error;
    for (int attempt = 0; attempt < 5; ++attempt) {
      port_ = FreePort();
      // max_connections: the ctest fixture's server is shared by the test
      // processes ctest -j runs at once, each with a few pools.
      std::string options = "-p " + std::to_string(port_) + " -k " + root_ +
                            " -c listen_addresses=127.0.0.1 -c fsync=off"
                            " -c synchronous_commit=off -c full_page_writes=off"
                            " -c max_connections=300 -c shared_buffers=32MB";
      if (Run(bin_ + "/pg_ctl",
              {"-D", data_, "-o", options, "-l", root_ + "/server.log", "-w", "-t", "60",
               "start"},
              &output) == 0) {
        started_ = true;
        return "";
      }
    }
    return "pg_ctl start failed: " + output + "\n" + ReadFile(root_ + "/server.log");
  }

  // Stops the server in `data_` (fast: nothing in it is kept). "" or why not.
  std::string Stop() {
    if (bin_.empty()) bin_ = FindBinDir();
    as_root_ = geteuid() == 0;
    data_ = root_ + "/data";
    std::string output;
    if (Run(bin_ + "/pg_ctl", {"-D", data_, "-m", "immediate", "-w", "stop"}, &output) != 0) {
      return "pg_ctl stop failed: " + output;
    }
    started_ = false;
    return "";
  }

  ~Server() {
    if (started_) Stop();
  }

  // Leaves the server running when this object goes (the fixture's stop step ends it).
  void Detach() { started_ = false; }

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

  std::string ConninfoBase() const {
    return "host=127.0.0.1 port=" + std::to_string(port_) + " user=postgres";
  }

 private:
  int Run(const std::string& program, const std::vector<std::string>& args, std::string* out) {
    if (!as_root_) return RunCommand(program, args, out);
    std::vector<std::string> wrapped = {"-u", "postgres", "--", program};
    wrapped.insert(wrapped.end(), args.begin(), args.end());
    return RunCommand(Executable("/usr/sbin/runuser") ? "/usr/sbin/runuser" : "/sbin/runuser",
                      wrapped, out);
  }

  std::unique_ptr<TempDir> owned_dir_;
  std::string root_;
  std::string bin_;
  std::string data_;
  bool as_root_ = false;
  bool started_ = false;
  int port_ = 0;
};

std::mutex g_mu;
std::unique_ptr<Server> g_server;  // stopped by its destructor at exit
std::string g_base;                // conninfo without dbname, "" until known
std::string g_error;
std::atomic<int> g_databases{0};

// The conninfo of the fixture's shared server, when ctest runs this process
// under the `pg` fixture (CRMSYNC_TEST_PG_DIR, see tests/CMakeLists.txt);
// "" when not set. Fills `error` when it is set but unusable.
std::string SharedConninfo(std::string* error) {
  const char* dir = std::getenv("CRMSYNC_TEST_PG_DIR");
  if (dir == nullptr || *dir == '\0') return "";
  std::string base = ReadFile(std::string(dir) + "/conninfo");
  if (base.empty()) {
    *error = std::string("CRMSYNC_TEST_PG_DIR=") + dir +
             " has no conninfo: the pg_server_start fixture did not run or failed";
  }
  return base;
}

}  // namespace

std::string NewPgDatabase() {
  std::string error;
  std::string base;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    if (g_base.empty() && g_error.empty()) {
      g_base = SharedConninfo(&g_error);
      if (g_base.empty() && g_error.empty()) {
        g_server = std::make_unique<Server>();
        g_error = g_server->Start();
        if (g_error.empty()) {
          g_base = g_server->ConninfoBase();
        } else {
          g_server.reset();
        }
      }
    }
    error = g_error;
    base = g_base;
  }
  REQUIRE_MESSAGE(error.empty(), error);
  // Unique across the processes sharing a server, and across pid reuse.
  static const unsigned salt = std::random_device{}();
  std::string name = "t" + std::to_string(getpid()) + "_" + std::to_string(salt % 100000) + "_" +
                     std::to_string(++g_databases);
  engine::PgConn admin(base + " dbname=postgres");
  admin.ExecScript("CREATE DATABASE " + name);
  return base + " dbname=" + name;
}

std::string StartSharedPgServer(const std::string& dir) {
  StopSharedPgServer(dir);  // one a killed run left behind
  Poco::File(dir).createDirectories();
  Server server(dir);
  std::string error = server.Start();
  if (!error.empty()) return error;
  std::string tmp = dir + "/conninfo.tmp";
  WriteFile(tmp, server.ConninfoBase());
  if (std::rename(tmp.c_str(), (dir + "/conninfo").c_str()) != 0) {
    return "cannot write " + dir + "/conninfo";
  }
  server.Detach();
  return "";
}

std::string StopSharedPgServer(const std::string& dir) {
  std::string error;
  if (Poco::File(dir + "/data/postmaster.pid").exists()) error = Server(dir).Stop();
  try {
    if (Poco::File(dir).exists()) Poco::File(dir).remove(true);
  } catch (const std::exception& e) {
    if (error.empty()) error = std::string("cannot remove ") + dir + ": " + e.what();
  }
  return error;
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
