// The HTTP server's TLS context; see tls.h.
#include "http/tls.h"

#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

namespace crmsync::engine {
namespace {

constexpr char kCertKey[] = "server.tls.cert";
constexpr char kKeyKey[] = "server.tls.key";

// "server.tls.key '/etc/k.pem'": how every message names a file.
std::string Named(const char* key, const std::string& path) {
  return std::string(key) + " '" + path + "'";
}

// Reads a whole regular file. False with `*error` naming the key, the file and
// the reason (missing, not a file, not readable).
bool ReadPem(const char* key, const std::string& path, std::string* content, std::string* error) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    *error = Named(key, path) + ": " + std::strerror(errno);
    return false;
  }
  if (!S_ISREG(st.st_mode)) {
    *error = Named(key, path) + ": not a regular file";
    return false;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = Named(key, path) + ": cannot read: " + std::strerror(errno);
    return false;
  }
  std::ostringstream text;
  text << in.rdbuf();
  *content = text.str();
  return true;
}

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct CtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};

std::unique_ptr<BIO, BioFree> MemoryBio(const std::string& content) {
  return std::unique_ptr<BIO, BioFree>(
      BIO_new_mem_buf(content.data(), static_cast<int>(content.size())));
}

// Refuses any passphrase: the engine starts unattended, so it never prompts.
// Records that one was asked for, so the error can say the key is encrypted.
int RefusePassphrase(char* /*buf*/, int /*size*/, int /*rwflag*/, void* asked) {
  *static_cast<bool*>(asked) = true;
  return -1;
}

// ALPN: the server speaks HTTP/1.1 only; a client offering h2 alone gets no
// ALPN answer and may carry on with HTTP/1.1 or give up.
int SelectAlpn(SSL* /*ssl*/, const unsigned char** out, unsigned char* out_len,
               const unsigned char* in, unsigned int in_len, void* /*arg*/) {
  static const unsigned char kHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, out_len, kHttp11, sizeof(kHttp11), in, in_len) ==
      OPENSSL_NPN_NEGOTIATED) {
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

}  // namespace

std::string TlsErrorText(const std::string& fallback) {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return fallback;
  const char* reason = ERR_reason_error_string(code);
  return reason != nullptr ? reason : fallback;
}

std::shared_ptr<TlsContext> TlsContext::Load(const TlsFiles& files, std::string* error) {
  error->clear();
  if (files.cert_file.empty() && files.key_file.empty()) return nullptr;
  if (files.key_file.empty()) {
    *error = Named(kCertKey, files.cert_file) + " is set but " + kKeyKey +
             " is not: HTTPS needs both (or neither, for plain HTTP)";
    return nullptr;
  }
  if (files.cert_file.empty()) {
    *error = Named(kKeyKey, files.key_file) + " is set but " + kCertKey +
             " is not: HTTPS needs both (or neither, for plain HTTP)";
    return nullptr;
  }
  std::string cert_pem;
  std::string key_pem;
  if (!ReadPem(kCertKey, files.cert_file, &cert_pem, error) ||
      !ReadPem(kKeyKey, files.key_file, &key_pem, error)) {
    return nullptr;
  }
  ERR_clear_error();

  // The certificate, then any chain certificates after it in the same file.
  auto cert_bio = MemoryBio(cert_pem);
  std::unique_ptr<X509, X509Free> cert(
      PEM_read_bio_X509_AUX(cert_bio.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    *error = Named(kCertKey, files.cert_file) + ": no PEM certificate in it (" +
             TlsErrorText("unreadable") + ")";
    return nullptr;
  }
  std::vector<std::unique_ptr<X509, X509Free>> chain;
  while (true) {
    std::unique_ptr<X509, X509Free> next(
        PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
    if (!next) break;
    chain.push_back(std::move(next));
  }
  const unsigned long last = ERR_peek_last_error();
  if (ERR_GET_LIB(last) == ERR_LIB_PEM && ERR_GET_REASON(last) == PEM_R_NO_START_LINE) {
    ERR_clear_error();  // the normal end of the file
  } else if (last != 0) {
    *error = Named(kCertKey, files.cert_file) +
             ": a chain certificate after the first does not parse (" + TlsErrorText("unreadable") +
             ")";
    return nullptr;
  }

  bool asked_passphrase = false;
  auto key_bio = MemoryBio(key_pem);
  std::unique_ptr<EVP_PKEY, PkeyFree> key(
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, RefusePassphrase, &asked_passphrase));
  if (!key) {
    if (asked_passphrase) {
      ERR_clear_error();
      *error = Named(kKeyKey, files.key_file) +
               ": the key is encrypted; crmsync starts unattended and reads only an unencrypted "
               "key (protect the file with its permissions instead)";
    } else {
      *error = Named(kKeyKey, files.key_file) + ": no PEM private key in it (" +
               TlsErrorText("unreadable") + ")";
    }
    return nullptr;
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    *error = Named(kKeyKey, files.key_file) + " does not match the certificate in " +
             Named(kCertKey, files.cert_file) + " (their public keys differ)";
    return nullptr;
  }

  std::unique_ptr<SSL_CTX, CtxFree> ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) {
    *error = std::string("cannot set up TLS: ") + TlsErrorText("SSL_CTX_new failed");
    return nullptr;
  }
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  // No client-started renegotiation (a CPU-exhaustion lever, and it would make
  // a write wait for a read); a peer closing without close_notify is an
  // ordinary end of stream for HTTP/1.1 with framed bodies.
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                     SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF);
  // Partial writes map SSL_write onto send()'s contract; the answer buffer may
  // grow (and move) between a blocked write and its retry; idle keep-alive
  // connections give their 2 x 16 KiB record buffers back.
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                                  SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_alpn_select_cb(ctx.get(), SelectAlpn, nullptr);
  if (SSL_CTX_use_certificate(ctx.get(), cert.get()) != 1) {
    *error = Named(kCertKey, files.cert_file) + ": refused by OpenSSL (" +
             TlsErrorText("unusable") + ")";
    return nullptr;
  }
  for (auto& extra : chain) {
    if (SSL_CTX_add0_chain_cert(ctx.get(), extra.get()) != 1) {
      *error = Named(kCertKey, files.cert_file) + ": a chain certificate is refused by OpenSSL (" +
               TlsErrorText("unusable") + ")";
      return nullptr;
    }
    extra.release();  // owned by the context now
  }
  if (SSL_CTX_use_PrivateKey(ctx.get(), key.get()) != 1 ||
      SSL_CTX_check_private_key(ctx.get()) != 1) {
    *error =
        Named(kKeyKey, files.key_file) + ": refused by OpenSSL (" + TlsErrorText("unusable") + ")";
    return nullptr;
  }
  return std::shared_ptr<TlsContext>(new TlsContext(ctx.release()));
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

SSL* TlsContext::NewConnection(int fd) const {
  SSL* ssl = SSL_new(ctx_);
  if (ssl == nullptr) return nullptr;
  if (SSL_set_fd(ssl, fd) != 1) {
    SSL_free(ssl);
    return nullptr;
  }
  SSL_set_accept_state(ssl);
  return ssl;
}

}  // namespace crmsync::engine
