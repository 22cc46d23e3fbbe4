// The live connection probe's verdicts, through the engine's guard, with a
// scripted in-process adapter: every stage and its exit code, what is sent
// (one lookup, or nothing when the plugin has none), and what a message may
// show (no query string, no secret). The same probe against real servers is
// in tests/e2e/live_check_test.cpp.
#include <doctest/doctest.h>

#include <set>
#include <stdexcept>
#include <string>

#include "conformance/connection_check.h"
#include "plugin_host/guarded_adapter.h"

namespace c = crmsync::engine::conformance;
using crmsync::HttpRequest;
using crmsync::HttpResponse;
using crmsync::Status;
using crmsync::TransportError;

namespace {

class ScriptedMapper : public crmsync::Mapper {
 public:
  Status BuildRequest(const crmsync::SyncJob&, crmsync::StepKind, HttpRequest*) override {
    return Status::Permanent("not used");
  }
  Status ReadResponse(const crmsync::SyncJob&, crmsync::StepKind, const HttpResponse&,
                      crmsync::StepResult*) override {
    return Status::Permanent("not used");
  }
  Status ParseWebhook(const crmsync::WebhookDelivery&,
                      std::vector<crmsync::InboundChange>*) override {
    return Status::Ok();
  }
  Status BuildLookup(const crmsync::SyncJob& job, HttpRequest* out) override {
    if (throw_in_build) throw std::runtime_error("boom");
    if (!build.ok()) return build;
    reference = job.external_reference;
    out->method = "GET";
    out->path = "/v1/leads?ref=" + job.external_reference + "&api_key=Sk4ret99Value";
    return Status::Ok();
  }
  Status ReadLookup(const crmsync::SyncJob&, const HttpResponse&,
                    std::optional<std::string>* id) override {
    if (!read.ok()) return read;
    *id = found;
    return Status::Ok();
  }
  Status build;
  Status read;
  bool throw_in_build = false;
  std::optional<std::string> found;
  std::string reference;
};

class ScriptedTransport : public crmsync::Transport {
 public:
  HttpResponse Send(const HttpRequest&) override {
    ++sent;
    return answer;
  }
  HttpResponse answer;
  int sent = 0;
};

class ScriptedAdapter : public crmsync::Adapter {
 public:
  crmsync::PluginInfo Info() const override {
    crmsync::PluginInfo info;
    info.name = "scripted";
    info.version = "1.0.0";
    info.capabilities.lookup_by_reference = lookup;
    return info;
  }
  Status Configure(const crmsync::PluginConfig&) override { return Status::Ok(); }
  crmsync::Mapper& mapping() override { return mapper; }
  crmsync::Transport& transport() override { return transport_; }
  bool lookup = true;
  ScriptedMapper mapper;
  ScriptedTransport transport_;
};

HttpResponse Status_(int status) {
  HttpResponse r;
  r.status = status;
  r.request_sent = true;
  r.body = "{}";
  return r;
}

HttpResponse Failure(TransportError error, const std::string& message) {
  HttpResponse r;
  r.error = error;
  r.error_message = message;
  return r;
}

c::ConnectionResult Probe(ScriptedAdapter& adapter) {
  crmsync::engine::GuardedAdapter guarded(&adapter, "scripted");
  return c::CheckConnection(guarded, adapter.Info().capabilities, "https://crm.example.com/base/");
}

}  // namespace

TEST_SUITE("engine.conformance") {
  TEST_CASE("connection check: each failure names its stage and has its own exit code") {
    struct Row {
      HttpResponse answer;
      c::ConnectionStage stage;
      const char* words;
    };
    const std::vector<Row> rows = {
        {Failure(TransportError::kDns, "DNS: cannot resolve host crm.example.com"),
         c::ConnectionStage::kDns, "DNS resolution failed"},
        {Failure(TransportError::kConnect, "connect to crm.example.com:443 failed: refused"),
         c::ConnectionStage::kConnect, "TCP connect failed"},
        {Failure(TransportError::kTimeout, "connect to crm.example.com:443 timed out"),
         c::ConnectionStage::kTimeout, "timed out"},
        {Failure(TransportError::kTls, "TLS certificate of crm.example.com:443 refused"),
         c::ConnectionStage::kTls, "TLS failed"},
        {Failure(TransportError::kIo, "connection to crm.example.com:443 broke"),
         c::ConnectionStage::kIo, "broke"},
        {Status_(401), c::ConnectionStage::kCredentials, "refused the credentials: 401"},
        {Status_(403), c::ConnectionStage::kCredentials, "refused the credentials: 403"},
        {Status_(404), c::ConnectionStage::kNotFound,
         "404 Not Found for GET https://crm.example.com/base/v1/leads:"},
        {Status_(502), c::ConnectionStage::kServerError, "the CRM failed: 502"},
        {Status_(429), c::ConnectionStage::kHttpStatus, "unexpected answer 429"},
    };
    for (const Row& row : rows) {
      CAPTURE(row.words);
      ScriptedAdapter adapter;
      adapter.transport_.answer = row.answer;
      c::ConnectionResult result = Probe(adapter);
      CHECK(result.stage == row.stage);
      CHECK_MESSAGE(result.message.find(row.words) != std::string::npos, result.message);
      CHECK(result.message.find("Sk4ret99Value") == std::string::npos);
      CHECK(result.url == "https://crm.example.com/base/v1/leads");
      CHECK(adapter.transport_.sent == 1);
      CHECK(adapter.mapper.reference == c::kProbeReference);
    }
    std::set<int> codes;
    for (int s = 0; s <= static_cast<int>(c::ConnectionStage::kPlugin); ++s) {
      const auto stage = static_cast<c::ConnectionStage>(s);
      CHECK(codes.insert(c::ConnectionExitCode(stage)).second);
      CHECK((c::ConnectionExitCode(stage) == 0) == (stage == c::ConnectionStage::kOk));
    }
  }

  TEST_CASE("connection check: a 2xx the plugin cannot read is unknown, never not found") {
    ScriptedAdapter adapter;
    adapter.transport_.answer = Status_(200);
    adapter.mapper.read = Status::Retryable("lookup answer does not match the mapping: /results");
    c::ConnectionResult result = Probe(adapter);
    CHECK(result.stage == c::ConnectionStage::kUnreadable);
    CHECK(result.message.find("unknown") != std::string::npos);
    CHECK(result.message.find("not found") == std::string::npos);
    CHECK(result.http_status == 200);
  }

  TEST_CASE("connection check: an answer read as no record is ok") {
    ScriptedAdapter adapter;
    adapter.transport_.answer = Status_(200);
    c::ConnectionResult result = Probe(adapter);
    CHECK(result.ok());
    CHECK(c::ConnectionExitCode(result.stage) == 0);
    CHECK(result.message.find("no record for the probe reference") != std::string::npos);
  }

  TEST_CASE("connection check: no lookup, a refused or throwing BuildLookup send nothing") {
    SUBCASE("no lookup_by_reference") {
      ScriptedAdapter adapter;
      adapter.lookup = false;
      c::ConnectionResult result = Probe(adapter);
      CHECK(result.stage == c::ConnectionStage::kNoLookup);
      CHECK(adapter.transport_.sent == 0);
    }
    SUBCASE("BuildLookup refuses") {
      ScriptedAdapter adapter;
      adapter.mapper.build = Status::Permanent("lookup not supported for leads");
      c::ConnectionResult result = Probe(adapter);
      CHECK(result.stage == c::ConnectionStage::kPlugin);
      CHECK(result.message.find("lookup not supported") != std::string::npos);
      CHECK(adapter.transport_.sent == 0);
    }
    SUBCASE("BuildLookup throws: the guard turns it into a plugin failure") {
      ScriptedAdapter adapter;
      adapter.mapper.throw_in_build = true;
      c::ConnectionResult result = Probe(adapter);
      CHECK(result.stage == c::ConnectionStage::kPlugin);
      CHECK(adapter.transport_.sent == 0);
    }
  }
}
