// unit_test_helpers.h: shared helpers of the generic-rest-crm unit tests: load
// a fixture mapping, parse an inline one, build sync jobs, read JSON bodies.
//
// Header-only; each test case builds its own values, so nothing is shared.
#ifndef CRMSYNC_TESTS_PLUGINS_GENERIC_REST_UNIT_TEST_HELPERS_H_
#define CRMSYNC_TESTS_PLUGINS_GENERIC_REST_UNIT_TEST_HELPERS_H_

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "crmsync/adapter.h"
#include "json_util.h"
#include "mapping_file.h"

namespace crmsync::genericrest::testing {

/// The folder of this directory's fixture mappings.
inline std::string FixturePath(const std::string& name) {
  return std::string(CRMSYNC_SOURCE_DIR) + "/tests/plugins/generic_rest/fixtures/" + name;
}

/// Loads a fixture that must be valid (the test fails with its errors if not).
inline Mapping LoadFixture(const std::string& name) {
  Mapping mapping;
  std::vector<std::string> errors;
  const bool ok = LoadMappingFile(FixturePath(name), &mapping, &errors);
  std::string joined;
  for (const std::string& error : errors) joined += error + "\n";
  INFO(joined);
  REQUIRE(ok);
  return mapping;
}

/// Parses inline mapping text; returns the errors (empty when valid).
inline std::vector<std::string> ParseErrors(const std::string& text, Mapping* out = nullptr) {
  Mapping mapping;
  std::vector<std::string> errors;
  ParseMapping("inline.json", text, &mapping, &errors);
  if (out != nullptr) *out = mapping;
  return errors;
}

/// True when some error contains `fragment`.
inline bool HasError(const std::vector<std::string>& errors, const std::string& fragment) {
  return std::any_of(errors.begin(), errors.end(), [&](const std::string& error) {
    return error.find(fragment) != std::string::npos;
  });
}

/// All errors, one per line, for failure messages.
inline std::string Joined(const std::vector<std::string>& errors) {
  std::string out;
  for (const std::string& error : errors) out += error + "\n";
  return out;
}

/// A lead job with most fields set.
inline SyncJob LeadJob(const std::string& id = "42", LeadStatus status = LeadStatus::kNew) {
  SyncJob job;
  job.job_id = "job-" + id;
  job.event_id = "evt-" + id;
  job.event_type =
      status == LeadStatus::kNew ? EventType::kLeadCreated : EventType::kLeadStatusChanged;
  job.entity_kind = EntityKind::kLead;
  job.entity_id = id;
  job.external_reference = "lead:" + id;
  Lead lead;
  lead.id = id;
  lead.name = "Asha Rao";
  lead.email = "asha@example.com";
  lead.phone = "+91 98765 43210";
  lead.source = "website";
  lead.status = status;
  lead.assigned_to_id = "dealer-7";
  lead.budget_min = 5000000;
  lead.budget_max = 7500000.5;
  lead.preferred_location = {"Whitefield", "Indiranagar"};
  lead.notes = "Wants a balcony";
  job.lead = lead;
  return job;
}

/// A CRM answer with `status` and `body`.
inline HttpResponse Answer(int status, const std::string& body) {
  HttpResponse response;
  response.status = status;
  response.body = body;
  return response;
}

/// Parses a JSON text that must be an object.
inline JsonObject ParseObjectOrFail(const std::string& text) {
  Var value;
  std::string error;
  INFO(text);
  REQUIRE(ParseJson(text, &value, &error));
  REQUIRE(IsObject(value));
  return value.extract<JsonObject>();
}

/// The JSON text at `pointer` in `text` ("<absent>" when missing).
inline std::string At(const std::string& text, const std::string& pointer) {
  Var value;
  std::string error;
  if (!ParseJson(text, &value, &error)) return "<not json>";
  const std::optional<Var> found = ResolvePointer(value, pointer);
  return found ? ToJson(*found) : "<absent>";
}

}  // namespace crmsync::genericrest::testing

#endif  // CRMSYNC_TESTS_PLUGINS_GENERIC_REST_UNIT_TEST_HELPERS_H_
