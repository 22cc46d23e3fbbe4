// HTTPS on the real binary (server.tls.cert/key), talked to by clients the
// project did not write: Debian's curl with --cacert and openssl s_client.
//
// Verified requests are answered (/healthz, an event accepted, /metrics);
// TLS 1.1 is refused by the server (curl --tls-max 1.1, and s_client offering
// TLS 1.1 at security level 0 so that the refusal can only be the server's); a
// client trusting another CA fails verification; plain HTTP to the port gets a
// plain 400 at once; a connection that never finishes its handshake is closed
// at server.header_timeout. A bad TLS setup stops the start with the key, the
// file and the reason.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "test_pki.h"
#include "test_support.h"

namespace t = crmsync::testing;

namespace {

const char kCurl[] = "/usr/bin/curl";
const char kOpenssl[] = "/usr/bin/openssl";

struct CurlResult {
  int exit_code = -1;
  int status = 0;      ///< HTTP status; 0 when there was none.
  std::string output;  ///< Body and curl's own messages.
};

// curl with a bound on time, so a hang is a failure, not a stuck test.
CurlResult Curl(std::vector<std::string> args) {
  std::vector<std::string> all = {"-sS", "--max-time", "10", "-w", "\n%{http_code}"};
  all.insert(all.end(), args.begin(), args.end());
  CurlResult result;
  result.exit_code = t::RunCommand(kCurl, all, &result.output);
  const size_t last = result.output.rfind('\n');
  if (last != std::string::npos) {
    const std::string code = result.output.substr(last + 1, 3);
    if (code.size() == 3 && code[0] >= '1' && code[0] <= '5') result.status = std::stoi(code);
  }
  return result;
}

std::vector<std::string> EngineArgs(const t::TempDir& dir, int port,
                                    const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"serve",
                                   "--set",
                                   "server.port=" + std::to_string(port),
                                   "--set",
                                   "store.path=" + dir.File("db"),
                                   "--set",
                                   "plugins.dir=" CRMSYNC_PLUGIN_DIR,
                                   "--set",
                                   "intake.token=tls-intake-token"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

}  // namespace

TEST_SUITE("e2e.tls") {
  TEST_CASE("the binary serves HTTPS to curl and openssl, and refuses what it must") {
    const t::TestPki pki;
    t::TempDir dir;
    const int port = t::FreePort();
    const std::string base = "https://127.0.0.1:" + std::to_string(port);
    t::ChildProcess engine(
        CRMSYNC_BINARY,
        EngineArgs(dir, port,
                   {"--set", "server.tls.cert=" + pki.server_cert(), "--set",
                    "server.tls.key=" + pki.server_key(), "--set", "server.header_timeout=300ms"}));
    REQUIRE_MESSAGE(t::WaitUntil([&] {
                      return Curl({"--cacert", pki.ca_cert(), base + "/healthz"}).status == 200;
                    }),
                    engine.Stderr());

    CHECK(engine.Stdout().find("listening on https://127.0.0.1:" + std::to_string(port)) !=
          std::string::npos);

    // Verified requests.
    CurlResult health = Curl({"--cacert", pki.ca_cert(), base + "/healthz"});
    CHECK(health.exit_code == 0);
    CHECK(health.output.find("\"status\":\"ok\"") != std::string::npos);
    CurlResult event =
        Curl({"--cacert", pki.ca_cert(), "-H", "Authorization: Bearer tls-intake-token", "-H",
              "Content-Type: application/json", "--data",
              R"({"eventId":"tls-1","type":"lead.created","occurredAt":"2026-11-23T10:15:00Z",)"
              R"("data":{"id":"L1","name":"Priya Sharma","status":"NEW"}})",
              base + "/api/v1/events"});
    CHECK(event.status == 202);
    CHECK(event.output.find("tls-1") != std::string::npos);
    // TLS 1.2 explicitly, too (curl picks 1.3 otherwise).
    CHECK(Curl({"--cacert", pki.ca_cert(), "--tls-max", "1.2", base + "/healthz"}).status == 200);

    // TLS 1.1: the server answers with a protocol_version alert.
    CurlResult old = Curl({"--cacert", pki.ca_cert(), "--tls-max", "1.1", base + "/healthz"});
    CHECK(old.exit_code == 35);  // CURLE_SSL_CONNECT_ERROR
    CHECK(old.status == 0);
    CHECK(old.output.find("alert protocol version") != std::string::npos);
    std::string s_client;
    t::RunCommand(kOpenssl,
                  {"s_client", "-connect", "127.0.0.1:" + std::to_string(port), "-tls1_1",
                   "-cipher", "DEFAULT@SECLEVEL=0", "-CAfile", pki.ca_cert()},
                  &s_client);
    CHECK(s_client.find("tlsv1 alert protocol version") != std::string::npos);
    // The same client at TLS 1.2 gets through and verifies the chain.
    std::string s_client12;
    CHECK(
        t::RunCommand(kOpenssl,
                      {"s_client", "-connect", "127.0.0.1:" + std::to_string(port), "-tls1_2",
                       "-verify_return_error", "-verify_ip", "127.0.0.1", "-CAfile", pki.ca_cert()},
                      &s_client12) == 0);
    CHECK(s_client12.find("Verify return code: 0 (ok)") != std::string::npos);

    // A client trusting another CA refuses the server.
    CurlResult untrusted = Curl({"--cacert", pki.other_ca_cert(), base + "/healthz"});
    CHECK(untrusted.exit_code == 60);  // CURLE_PEER_FAILED_VERIFICATION
    CHECK(untrusted.status == 0);

    // Plain HTTP on the HTTPS port: a plain 400 at once, not a hang.
    CurlResult plain = Curl({"http://127.0.0.1:" + std::to_string(port) + "/healthz"});
    CHECK(plain.status == 400);
    CHECK(plain.output.find("this port speaks HTTPS only") != std::string::npos);

    // A connection that never finishes its handshake is closed at
    // server.header_timeout (300 ms); the client's own bound is 10 s.
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    timeval tv{10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    const auto start = std::chrono::steady_clock::now();
    char byte;
    const ssize_t got = recv(fd, &byte, 1, 0);
    const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start);
    close(fd);
    CHECK(got == 0);
    CHECK(waited.count() < 5000);
    CurlResult metrics = Curl({"--cacert", pki.ca_cert(), base + "/metrics"});
    CHECK(metrics.output.find("crmsync_http_timeouts_total 1") != std::string::npos);
    // Failed handshakes so far: curl at TLS 1.1, s_client at TLS 1.1, the
    // untrusted client, plain HTTP.
    CHECK_MESSAGE(metrics.output.find("crmsync_http_tls_failed_total 4") != std::string::npos,
                  metrics.output);

    engine.Signal(SIGTERM);
    CHECK(engine.WaitExit(std::chrono::seconds(20)));
    CHECK(engine.exit_code() == 0);
  }

  TEST_CASE("a bad TLS setup stops the start, naming the key, the file and the reason") {
    const t::TestPki pki;
    struct Case {
      std::vector<std::string> sets;
      std::string expected;
    };
    const std::string missing = pki.dir() + "/missing.pem";
    const Case cases[] = {
        {{"server.tls.cert=" + pki.server_cert()},
         "server.tls.cert '" + pki.server_cert() + "' is set but server.tls.key is not"},
        {{"server.tls.cert=" + pki.server_cert(), "server.tls.key=" + missing},
         "server.tls.key '" + missing + "': No such file or directory"},
        {{"server.tls.cert=" + pki.not_pem(), "server.tls.key=" + pki.server_key()},
         "server.tls.cert '" + pki.not_pem() + "': no PEM certificate in it"},
        {{"server.tls.cert=" + pki.server_cert(), "server.tls.key=" + pki.other_key()},
         "server.tls.key '" + pki.other_key() + "' does not match the certificate in " +
             "server.tls.cert '" + pki.server_cert() + "'"},
    };
    for (const Case& c : cases) {
      CAPTURE(c.expected);
      t::TempDir dir;
      std::vector<std::string> extra;
      for (const std::string& set : c.sets) {
        extra.push_back("--set");
        extra.push_back(set);
      }
      t::ChildProcess engine(CRMSYNC_BINARY, EngineArgs(dir, t::FreePort(), extra));
      REQUIRE(engine.WaitExit(std::chrono::seconds(20)));
      CHECK(engine.exit_code() != 0);
      CHECK(engine.Stderr().find("crmsync: cannot start: " + c.expected) != std::string::npos);
      // check-config runs the same check and says the same words.
      std::vector<std::string> check = EngineArgs(dir, t::FreePort(), extra);
      check[0] = "check-config";
      std::string output;
      CHECK(t::RunCommand(CRMSYNC_BINARY, check, &output) != 0);
      CHECK_MESSAGE(output.find(c.expected) != std::string::npos, output);
    }
  }
}
