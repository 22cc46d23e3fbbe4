// Tests for reconcile/field_compare: which fields differ, and whose each
// difference is (docs/design.md §5, the plan's field ownership for reconcile).
#include <doctest/doctest.h>

#include "reconcile/field_compare.h"

using namespace crmsync;
using namespace crmsync::engine;

namespace {

std::vector<FieldDiff> Diffs(const std::string& mirror, const std::string& crm,
                             const FieldOwnership& own = FieldOwnership(),
                             EntityKind kind = EntityKind::kLead) {
  std::vector<FieldDiff> diffs;
  std::string error;
  REQUIRE_MESSAGE(CompareFields(kind, mirror, crm, own, &diffs, &error), error);
  return diffs;
}

}  // namespace

TEST_SUITE("reconcile.field_compare") {
  TEST_CASE("equal values, absent fields and empty lists are no difference") {
    CHECK(Diffs(R"({"id":"L1","name":"Asha","budgetMin":5000000})",
                R"({"name":"Asha","budgetMin":5000000.0})")
              .empty());
    // A field the plugin cannot read back is absent: not compared.
    CHECK(Diffs(R"({"id":"L1","name":"Asha","notes":"x"})", R"({"name":"Asha"})").empty());
    // Nothing on both sides, however each says it.
    CHECK(Diffs(R"({"id":"L1"})", R"({"notes":null,"preferredLocation":[],"utmSource":""})")
              .empty());
    // Timestamps and the id are the CRM's own.
    CHECK(Diffs(R"({"id":"L1","createdAt":"2026-01-01T00:00:00Z"})",
                R"({"id":"crm-9","createdAt":"2026-02-02T00:00:00Z","updatedAt":"x"})")
              .empty());
  }

  TEST_CASE("a platform field that differs is drift, values masked for show") {
    std::vector<FieldDiff> d =
        Diffs(R"({"id":"L1","name":"Asha","email":"asha@example.com","phone":"+919876543210"})",
              R"({"name":"Asha R.","email":"other@example.com","phone":null})");
    REQUIRE(d.size() == 3u);
    CHECK(d[0].field == "email");
    CHECK(d[0].mirror == "\"[email]\"");
    CHECK(d[0].crm == "\"[email]\"");
    CHECK_FALSE(d[0].crm_owned);
    CHECK(d[1].field == "name");
    CHECK(d[1].mirror == "\"Asha\"");
    CHECK(d[1].crm == "\"Asha R.\"");
    CHECK(d[2].field == "phone");
    CHECK(d[2].mirror == "\"[phone]\"");
    CHECK(d[2].crm == "null");
  }

  TEST_CASE("a lead's status is the CRM's once the mirror's reached crm_owns_status_from") {
    FieldOwnership own;  // QUALIFIED, the default
    std::vector<FieldDiff> before = Diffs(R"({"id":"L1","status":"CONTACTED"})",
                                          R"({"status":"NEGOTIATING"})", own);
    REQUIRE(before.size() == 1u);
    CHECK_FALSE(before[0].crm_owned);
    std::vector<FieldDiff> from = Diffs(R"({"id":"L1","status":"QUALIFIED"})",
                                        R"({"status":"NEGOTIATING"})", own);
    REQUIRE(from.size() == 1u);
    CHECK(from[0].crm_owned);
    // A property's status is never the CRM's by that rule.
    std::vector<FieldDiff> property = Diffs(R"({"id":"p1","status":"ACTIVE"})",
                                            R"({"status":"SOLD"})", own, EntityKind::kProperty);
    REQUIRE(property.size() == 1u);
    CHECK_FALSE(property[0].crm_owned);

    std::string error;
    REQUIRE(ParseFieldOwnership("always", {}, &own, &error));
    CHECK(Diffs(R"({"id":"L1","status":"NEW"})", R"({"status":"LOST"})", own)[0].crm_owned);
    REQUIRE(ParseFieldOwnership("never", {}, &own, &error));
    CHECK_FALSE(Diffs(R"({"id":"L1","status":"LOST"})", R"({"status":"NEW"})", own)[0].crm_owned);
  }

  TEST_CASE("reconcile.crm_fields are the CRM's") {
    FieldOwnership own;
    std::string error;
    REQUIRE(ParseFieldOwnership("QUALIFIED", {"notes"}, &own, &error));
    std::vector<FieldDiff> d =
        Diffs(R"({"id":"L1","notes":"a","name":"x"})", R"({"notes":"b","name":"y"})", own);
    REQUIRE(d.size() == 2u);
    CHECK(d[0].field == "name");
    CHECK_FALSE(d[0].crm_owned);
    CHECK(d[1].field == "notes");
    CHECK(d[1].crm_owned);
  }

  TEST_CASE("bad input is named") {
    FieldOwnership own;
    std::string error;
    CHECK_FALSE(ParseFieldOwnership("SOMETIMES", {}, &own, &error));
    CHECK(error.find("inbound.crm_owns_status_from: \"SOMETIMES\"") != std::string::npos);
    CHECK_FALSE(ParseFieldOwnership("QUALIFIED", {"id"}, &own, &error));
    CHECK(error.find("reconcile.crm_fields: \"id\"") != std::string::npos);
    std::vector<FieldDiff> diffs;
    CHECK_FALSE(CompareFields(EntityKind::kLead, "{", "{}", own, &diffs, &error));
    CHECK(error.find("the mirror row is not JSON") != std::string::npos);
    CHECK_FALSE(CompareFields(EntityKind::kLead, "{}", "[1]", own, &diffs, &error));
    CHECK(error.find("the CRM record's fields is not a JSON object") != std::string::npos);
  }
}
