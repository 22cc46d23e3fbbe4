// auth_test.cpp: generic-rest-crm request authentication (auth.h,
// signing_transport.h): apiKey and bearer headers, secrets never in messages,
// and HMAC-SHA256 signatures checked against `openssl dgst` run on its own.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "auth.h"
#include "crmsync/http_transport.h"
#include "signing_transport.h"
#include "test_support.h"
#include "unit_test_helpers.h"

namespace crmsync::genericrest {
namespace {

using testing::LoadFixture;

constexpr char kKey[] = "key-Zq81";
constexpr char kSecret[] = "s3cr3t-Hm4c";

// Records the last request it was given.
class RecordingTransport final : public Transport {
 public:
  HttpRequest last;
  HttpResponse Send(const HttpRequest& request) override {
    last = request;
    HttpResponse response;
    response.status = 200;
    return response;
  }
};

// The request the signing tests sign: PUT /leads/9 with body "{}".
HttpRequest PutLead9() {
  HttpRequest request;
  request.method = "PUT";
  request.path = "/leads/9";
  request.body = "{}";
  return request;
}

// HMAC-SHA256 of `data` with `key` computed by the openssl command line tool.
std::string OpensslHmac(const std::string& key, const std::string& data, bool base64) {
  crmsync::testing::TempDir dir;
  crmsync::testing::WriteFile(dir.File("payload"), data);
  crmsync::testing::WriteFile(dir.File("key"), key);
  const std::string command = "openssl dgst -sha256 -hmac \"$(cat '" + dir.File("key") + "')\" " +
                              (base64 ? "-binary '" + dir.File("payload") + "' | base64 -w0"
                                      : "-r '" + dir.File("payload") + "' | cut -d' ' -f1");
  std::string output;
  const int code = crmsync::testing::RunCommand("/bin/sh", {"-c", command}, &output);
  REQUIRE(code == 0);
  while (!output.empty() && (output.back() == '\n' || output.back() == ' ')) output.pop_back();
  return output;
}

Mapping WithAuth(const std::string& auth_json) {
  Mapping mapping;
  const std::vector<std::string> errors = testing::ParseErrors(R"({"name": "auth",
      "auth": )" + auth_json + R"(,
      "headers": {"Accept": "application/json"},
      "statusMap": {"lead": {"NEW": "n", "CONTACTED": "c", "QUALIFIED": "q", "VIEWING_SCHEDULED": "v",
                             "VIEWED": "v", "NEGOTIATING": "g", "CONVERTED": "w", "LOST": "l"}},
      "entities": {"lead": {"operations": {"create": {"method": "POST", "path": "/l"},
                                           "update": {"method": "PUT", "path": "/l/{externalId}"}}}}})",
                                                               &mapping);
  INFO(testing::Joined(errors));
  REQUIRE(errors.empty());
  return mapping;
}

TEST_SUITE("plugins.generic_rest") {
  TEST_CASE("auth: apiKey headers carry the configured secrets, after the mapping's headers") {
    const Mapping mapping = LoadFixture("full.json");
    HeaderList headers;
    REQUIRE(StaticHeaders(mapping, Secrets{kKey, kSecret}, &headers).ok());
    REQUIRE(headers.size() == 4);
    CHECK(headers[0] == std::make_pair(std::string("Accept"), std::string("application/json")));
    CHECK(headers[1].first == "User-Agent");
    CHECK(FindHeader(headers, "X-API-Key") == kKey);
    CHECK(FindHeader(headers, "X-API-Secret") == kSecret);
  }

  TEST_CASE("auth: bearer sends Authorization: Bearer <api_key>") {
    const Mapping mapping = WithAuth(R"({"type": "bearer", "token": "{{secret.apiKey}}"})");
    HeaderList headers;
    REQUIRE(StaticHeaders(mapping, Secrets{kKey, ""}, &headers).ok());
    CHECK(FindHeader(headers, "Authorization") == std::string("Bearer ") + kKey);
    CHECK(FindHeader(headers, "Accept") == "application/json");
  }

  TEST_CASE(
      "auth: a secret the mapping needs but the config lacks is a config error without values") {
    const Mapping mapping = LoadFixture("full.json");
    HeaderList headers;
    Status status = StaticHeaders(mapping, Secrets{kKey, ""}, &headers);
    CHECK(status.code() == StatusCode::kInvalidConfig);
    CHECK(status.message().find("api_secret") != std::string::npos);
    CHECK(status.message().find(kKey) == std::string::npos);

    status = StaticHeaders(mapping, Secrets{"", kSecret}, &headers);
    CHECK(status.code() == StatusCode::kInvalidConfig);
    CHECK(status.message().find("api_key") != std::string::npos);
    CHECK(status.message().find(kSecret) == std::string::npos);

    const Mapping hmac = LoadFixture("hmac.json");
    status = StaticHeaders(hmac, Secrets{kKey, ""}, &headers);
    CHECK(status.code() == StatusCode::kInvalidConfig);
    CHECK(status.message().find("auth/secret") != std::string::npos);

    const Mapping none = WithAuth(R"({"type": "none"})");
    CHECK(StaticHeaders(none, Secrets{}, &headers).ok());
    CHECK(headers.size() == 1);
  }

  TEST_CASE("auth: HmacSha256 matches openssl dgst, hex and base64") {
    const std::string data = "POST\n/api/v1/leads\n1795428930\n{\"name\":\"Asha\"}";
    CHECK(HmacSha256(kSecret, data, "hex") == OpensslHmac(kSecret, data, false));
    CHECK(HmacSha256(kSecret, data, "base64") == OpensslHmac(kSecret, data, true));
    CHECK(HmacSha256(kSecret, "", "hex").size() == 64);
  }

  TEST_CASE("auth: SignRequest adds the timestamp and the signature of the payload") {
    const Mapping mapping = LoadFixture("hmac.json");
    HttpRequest request;
    request.method = "POST";
    request.path = "/leads?x=1";
    request.body = R"({"name":"Asha Rao"})";
    SignRequest(mapping.auth, Secrets{kKey, kSecret}, 1795428930, "/base/leads?x=1", &request);
    CHECK(FindHeader(request.headers, "X-Timestamp") == "1795428930");
    const std::string payload = "POST\n/base/leads?x=1\n1795428930\n" + request.body;
    CHECK(FindHeader(request.headers, "X-Signature") == OpensslHmac(kSecret, payload, false));
  }

  TEST_CASE("auth: SigningTransport signs the path the CRM sees, at the injected time") {
    const Mapping mapping = LoadFixture("hmac.json");
    auto inner = std::make_unique<RecordingTransport>();
    RecordingTransport* recorder = inner.get();
    SigningTransport transport(std::move(inner), mapping.auth, Secrets{kKey, kSecret}, "/crm",
                               [] { return int64_t{1700000000}; });
    const HttpRequest request = PutLead9();
    CHECK(transport.Send(request).status == 200);
    CHECK(recorder->last.path == "/leads/9");
    CHECK(FindHeader(recorder->last.headers, "X-Timestamp") == "1700000000");
    CHECK(FindHeader(recorder->last.headers, "X-Signature") ==
          OpensslHmac(kSecret, "PUT\n/crm/leads/9\n1700000000\n{}", false));

    // The base64 encoding and a custom payload, through the same path.
    const Mapping custom = WithAuth(
        R"({"type": "hmac", "secret": "{{secret.apiSecret}}", "header": "X-Sig", "encoding": "base64",
          "payload": "{{timestamp}}.{{body}}"})");
    auto inner2 = std::make_unique<RecordingTransport>();
    RecordingTransport* recorder2 = inner2.get();
    SigningTransport base64(std::move(inner2), custom.auth, Secrets{"", kSecret}, "",
                            [] { return int64_t{1700000001}; });
    base64.Send(request);
    CHECK(FindHeader(recorder2->last.headers, "X-Timestamp") == "");
    CHECK(FindHeader(recorder2->last.headers, "X-Sig") ==
          OpensslHmac(kSecret, "1700000001.{}", true));
  }

  TEST_CASE("auth: SigningTransport prepares the signed request Send would write") {
    const Mapping mapping = LoadFixture("hmac.json");
    HttpTransportOptions options;
    options.base_url = "http://127.0.0.1:9/crm";  // Nothing listens; nothing connects.
    REQUIRE(StaticHeaders(mapping, Secrets{kKey, kSecret}, &options.default_headers).ok());
    std::unique_ptr<HttpTransport> http;
    REQUIRE(HttpTransport::Create(options, &http).ok());
    HttpTransport* inner = http.get();
    SigningTransport transport(std::move(http), mapping.auth, Secrets{kKey, kSecret}, "/crm",
                               [] { return int64_t{1700000000}; });
    const HttpRequest request = PutLead9();
    WireRequest wire;
    REQUIRE(transport.Prepare(request, &wire).ok());
    CHECK(inner->connections_opened() == 0);
    CHECK(wire.url == "http://127.0.0.1:9/crm/leads/9");
    CHECK(FindHeader(wire.headers, "X-Client") == kKey);
    CHECK(FindHeader(wire.headers, "X-Timestamp") == "1700000000");
    CHECK(FindHeader(wire.headers, "X-Signature") ==
          OpensslHmac(kSecret, "PUT\n/crm/leads/9\n1700000000\n{}", false));
    CHECK(AsPreparing(&transport) != nullptr);

    // An inner transport that cannot prepare: the refusal names why.
    SigningTransport over_recorder(std::make_unique<RecordingTransport>(), mapping.auth,
                                   Secrets{kKey, kSecret}, "");
    Status refused = over_recorder.Prepare(request, &wire);
    CHECK(refused.code() == StatusCode::kPermanent);
    CHECK(refused.message() == "the inner transport cannot prepare requests");
  }

  TEST_CASE("auth: without hmac, SigningTransport passes requests through untouched") {
    const Mapping mapping = LoadFixture("full.json");
    auto inner = std::make_unique<RecordingTransport>();
    RecordingTransport* recorder = inner.get();
    SigningTransport transport(std::move(inner), mapping.auth, Secrets{kKey, kSecret}, "");
    HttpRequest request;
    request.path = "/x";
    request.headers = {{"A", "1"}};
    transport.Send(request);
    CHECK(recorder->last.headers == request.headers);
  }

}  // TEST_SUITE
}  // namespace
}  // namespace crmsync::genericrest
