// test_pki.h: a throwaway PKI for HTTPS tests, made with Debian's openssl CLI
// (scripts/install-deps.sh installs it), so the certificates come from software
// the project did not write.
//
// One CA and a server certificate it signed for localhost and 127.0.0.1, a
// second CA nobody signed with (a client trusting only it must refuse the
// server), a key unrelated to the certificate, an encrypted copy of the server
// key, and a file that is not PEM. EC P-256 keys, so making them is quick.
#ifndef CRMSYNC_TESTS_TEST_PKI_H_
#define CRMSYNC_TESTS_TEST_PKI_H_

#include <string>

#include "test_support.h"

namespace crmsync::testing {

class TestPki {
 public:
  /// Makes every file; throws std::runtime_error with openssl's output when a
  /// step fails.
  TestPki();

  std::string ca_cert() const { return dir_.File("ca.pem"); }
  std::string server_cert() const { return dir_.File("server.pem"); }
  std::string server_key() const { return dir_.File("server.key"); }
  std::string other_ca_cert() const { return dir_.File("other-ca.pem"); }
  std::string other_key() const { return dir_.File("other.key"); }
  std::string encrypted_key() const { return dir_.File("encrypted.key"); }
  std::string not_pem() const { return dir_.File("not.pem"); }
  const std::string& dir() const { return dir_.path(); }

 private:
  void Run(const std::vector<std::string>& args);
  TempDir dir_;
};

}  // namespace crmsync::testing

#endif  // CRMSYNC_TESTS_TEST_PKI_H_
