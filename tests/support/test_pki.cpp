// The throwaway PKI; see test_pki.h.
#include "test_pki.h"

#include <stdexcept>
#include <vector>

namespace crmsync::testing {

namespace {
const char kOpenssl[] = "/usr/bin/openssl";
}  // namespace

void TestPki::Run(const std::vector<std::string>& args) {
  std::string output;
  if (RunCommand(kOpenssl, args, &output) != 0) {
    std::string line = "openssl";
    for (const std::string& a : args) line += " " + a;
    throw std::runtime_error(line + " failed: " + output);
  }
}

TestPki::TestPki() {
  const std::vector<std::string> ec = {"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                                       "-nodes"};
  auto with = [](std::vector<std::string> head, const std::vector<std::string>& tail) {
    head.insert(head.end(), tail.begin(), tail.end());
    return head;
  };
  for (const char* name : {"ca", "other-ca"}) {
    Run(with(with({"req", "-x509"}, ec),
             {"-keyout", dir_.File(std::string(name) + ".key"), "-out",
              dir_.File(std::string(name) + ".pem"), "-days", "2", "-subj",
              std::string("/CN=crmsync test ") + name, "-addext",
              "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign"}));
  }
  Run(with(with({"req"}, ec),
           {"-keyout", server_key(), "-out", dir_.File("server.csr"), "-subj", "/CN=localhost"}));
  WriteFile(dir_.File("server.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
            "extendedKeyUsage=serverAuth\n");
  Run({"x509", "-req", "-in", dir_.File("server.csr"), "-CA", ca_cert(), "-CAkey",
       dir_.File("ca.key"), "-CAcreateserial", "-out", server_cert(), "-days", "2", "-extfile",
       dir_.File("server.ext")});
  Run({"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", other_key()});
  Run({"pkey", "-in", server_key(), "-aes256", "-passout", "pass:not-a-real-secret", "-out",
       encrypted_key()});
  WriteFile(not_pem(), "this is not a certificate\n");
}

}  // namespace crmsync::testing
