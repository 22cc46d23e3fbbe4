// shadow/shadow_summary: counting jobs, steps and differing places, keeping
// the latest examples, and reading back what it saved.
#include <doctest/doctest.h>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "shadow/shadow_summary.h"

namespace crmsync::engine {
namespace {

using Poco::JSON::Object;

const RequestMask kMask({});

ShadowJobResult Job(int64_t id, const std::string& live_body, const std::string& shadow_body) {
  ShadowJobResult job;
  job.job_id = id;
  job.event_id = "evt-" + std::to_string(id);
  job.entity = "lead:" + std::to_string(id);
  job.at_ms = 1796256000000;
  ShadowStepResult step;
  step.kind = "create";
  step.difference.body = DiffBodies(live_body, shadow_body, kMask);
  if (step.difference.any()) step.example = R"({"step":"create"})";
  job.steps.push_back(step);
  return job;
}

Object::Ptr Json(const ShadowSummary& s, size_t top = 20) {
  JsonObject out;
  s.Write(&out, top);
  return Poco::JSON::Parser().parse(out.Done()).extract<Object::Ptr>();
}

TEST_SUITE("shadow") {
  TEST_CASE("jobs are counted identical, differing or errors, and places by frequency") {
    ShadowSummary s("generic-rest-crm", "/m/v2.json", "", 1796256000000);
    CHECK(std::string(s.Add(Job(1, R"({"name":"a"})", R"({"name":"a"})"))) == "identical");
    CHECK(std::string(s.Add(Job(2, R"({"name":"a"})", R"({"fullName":"a"})"))) == "differing");
    CHECK(std::string(s.Add(Job(3, R"({"name":"b","x":1})", R"({"fullName":"b","x":2})"))) ==
          "differing");
    ShadowJobResult failed;
    failed.job_id = 4;
    failed.error = "BuildRequest(create): invalid_record: no name";
    CHECK(std::string(s.Add(failed)) == "error");
    ShadowJobResult planned = Job(5, "{}", "{}");
    planned.live_plan = "create,activity";
    planned.shadow_plan = "create";
    CHECK(std::string(s.Add(planned)) == "differing");

    Object::Ptr o = Json(s);
    Object::Ptr jobs = o->getObject("jobs");
    CHECK(jobs->getValue<int>("compared") == 4);
    CHECK(jobs->getValue<int>("identical") == 1);
    CHECK(jobs->getValue<int>("differing") == 3);
    CHECK(jobs->getValue<int>("errors") == 1);
    CHECK(o->getValue<int>("planDiffering") == 1);
    Object::Ptr create = o->getObject("steps")->getObject("create");
    CHECK(create->getValue<int>("compared") == 4);
    CHECK(create->getValue<int>("differing") == 2);
    auto differences = o->getArray("differences");
    REQUIRE(differences->size() == 4);
    // The most frequent first: /fullName added and /name removed, twice each.
    CHECK(differences->getObject(0)->getValue<int>("count") == 2);
    CHECK(differences->getObject(1)->getValue<int>("count") == 2);
    CHECK(differences->getObject(3)->getValue<int>("count") == 1);
    CHECK(o->getArray("errorExamples")->size() == 1);
    CHECK(o->getArray("examples")->size() == 3);

    // `top` cuts the list, not the count of distinct places.
    Object::Ptr top = Json(s, 1);
    CHECK(top->getArray("differences")->size() == 1);
    CHECK(top->getValue<int>("distinctDifferences") == 4);
  }

  TEST_CASE("only the latest examples are kept") {
    ShadowSummary s("p", "", "", 0);
    for (int i = 1; i <= 9; ++i) s.Add(Job(i, R"({"a":1})", R"({"a":2})"));
    auto examples = Json(s)->getArray("examples");
    REQUIRE(examples->size() == ShadowSummary::kMaxExamples);
    CHECK(examples->getObject(0)->getValue<int>("jobId") == 5);
    CHECK(examples->getObject(4)->getValue<int>("jobId") == 9);
  }

  TEST_CASE("what ToJson() saves, FromJson() reads back whole") {
    ShadowSummary s("generic-rest-crm", "/m/v2.json", "http://sandbox:9", 1796256000123);
    s.Add(Job(1, R"({"name":"a"})", R"({"fullName":"a"})"));
    ShadowJobResult sent = Job(2, "{}", "{}");
    sent.sandbox_statuses = {201, 0};
    s.Add(sent);
    s.AddDropped(3);
    ShadowSummary back;
    REQUIRE(ShadowSummary::FromJson(s.ToJson(), &back));
    CHECK(back.ToJson() == s.ToJson());
    CHECK(back.SameSubject(s));
    CHECK_FALSE(back.SameSubject(ShadowSummary("generic-rest-crm", "/m/v3.json", "http://sandbox:9", 0)));
    CHECK(back.dropped() == 3);
    CHECK(back.sandbox_sent() == 2);

    CHECK_FALSE(ShadowSummary::FromJson("not json", &back));
    CHECK_FALSE(ShadowSummary::FromJson("[1]", &back));
    CHECK_FALSE(ShadowSummary::FromJson(R"({"plugin":"x"})", &back));
  }
}

}  // namespace
}  // namespace crmsync::engine
