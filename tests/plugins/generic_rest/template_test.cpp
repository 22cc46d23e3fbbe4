// template_test.cpp: rendering generic-rest-crm templates (template.h), the
// transforms (transforms.h) and a job's context variables (context.h), one
// feature at a time, with plain values and no network.
#include <doctest/doctest.h>

#include <map>
#include <optional>
#include <string>

#include "context.h"
#include "template.h"
#include "transforms.h"
#include "unit_test_helpers.h"

namespace crmsync::genericrest {
namespace {

using testing::LeadJob;

Var Json(const std::string& text) {
  Var value;
  std::string error;
  INFO(text);
  REQUIRE(ParseJson(text, &value, &error));
  return value;
}

struct Tables {
  StringTable status_out = {{"NEW", "new"}, {"CONVERTED", "won"}};
  StringTable status_in = {{"new", "NEW"}, {"won", "CONVERTED"}, {"closed_won", "CONVERTED"}};
  std::map<std::string, StringTable> lookups = {{"agents", {{"dealer-7", "agent_123"}}},
                                                {"areas", {{"Whitefield", "WF"}}}};
  TransformTables Get() const {
    TransformTables tables;
    tables.status_out = &status_out;
    tables.status_in = &status_in;
    tables.lookups = &lookups;
    return tables;
  }
};

Context SampleContext() {
  Context context;
  context["name"] = Var(std::string("Asha Rao"));
  context["budgetMin"] = NumberValue(5000000);
  context["budgetMax"] = NumberValue(7500000.5);
  JsonArray areas = NewArray();
  areas->add(std::string("Whitefield"));
  areas->add(std::string("Indiranagar"));
  context["preferredLocation"] = Var(areas);
  context["empty"] = Var(std::string(""));
  context["emptyList"] = Var(NewArray());
  context["status"] = Var(std::string("CONVERTED"));
  context["assignedToId"] = Var(std::string("dealer-7"));
  context["createdAt"] = Var(std::string("2026-11-23T10:15:30Z"));
  context["city"] = Var(std::string("Bengaluru"));
  context["count"] = Var(std::string("42"));
  context["word"] = Var(std::string("abc"));
  context["csv"] = Var(std::string("a,b,,c"));
  return context;
}

// Renders `tmpl` (JSON text) against SampleContext(); "<omitted>" when omitted.
std::string Render(const std::string& tmpl, Status* status_out = nullptr) {
  const Tables tables;
  std::optional<Var> out;
  Status status = RenderJson(Json(tmpl), SampleContext(), tables.Get(), &out);
  if (status_out != nullptr) *status_out = status;
  if (!status.ok()) return "<" + status.ToString() + ">";
  return out ? ToJson(*out) : "<omitted>";
}

TEST_SUITE("plugins.generic_rest") {
  TEST_CASE("template: a lone {{field}} keeps the value's JSON type") {
    CHECK(Render(R"({"n": "{{name}}"})") == R"({"n":"Asha Rao"})");
    CHECK(Render(R"({"min": "{{budgetMin}}", "max": "{{budgetMax}}"})") ==
          R"({"min":5000000,"max":7500000.5})");
    CHECK(Render(R"({"areas": "{{preferredLocation}}"})") ==
          R"({"areas":["Whitefield","Indiranagar"]})");
    CHECK(Render(R"({"n": "{{ name }}"})") == R"({"n":"Asha Rao"})");
  }

  TEST_CASE("template: a missing or empty value omits its key") {
    CHECK(Render(R"({"n": "{{name}}", "x": "{{missing}}"})") == R"({"n":"Asha Rao"})");
    CHECK(Render(R"({"n": "{{name}}", "e": "{{empty}}", "l": "{{emptyList}}"})") ==
          R"({"n":"Asha Rao"})");
  }

  TEST_CASE("template: text interpolates values and a missing value renders empty") {
    CHECK(Render(R"({"t": "Deal for {{name}}"})") == R"({"t":"Deal for Asha Rao"})");
    CHECK(Render(R"({"t": "Deal for {{missing}}!"})") == R"({"t":"Deal for !"})");
    CHECK(Render(R"({"t": "{{budgetMin}}-{{budgetMax}}"})") == R"({"t":"5000000-7500000.5"})");
    CHECK(Render(R"({"t": "{{preferredLocation}}"})").find("[") != std::string::npos);
    CHECK(Render(R"({"t": "in {{preferredLocation}}"})") == R"({"t":"in Whitefield,Indiranagar"})");
    CHECK(RenderText("{{name}} <{{missing}}>", SampleContext()) == "Asha Rao <>");
  }

  TEST_CASE("template: nested objects, omitted when all their members are") {
    CHECK(Render(R"({"budgetRange": {"min": "{{budgetMin}}", "max": "{{missing}}"}})") ==
          R"({"budgetRange":{"min":5000000}})");
    CHECK(
        Render(R"({"n": "{{name}}", "budgetRange": {"min": "{{missing}}", "max": "{{empty}}"}})") ==
        R"({"n":"Asha Rao"})");
    CHECK(Render(R"({"a": {"b": {"c": "{{missing}}"}}})") == "<omitted>");
    // A literal empty object or array is a constant, kept as written.
    CHECK(Render(R"({"meta": {}, "tags": []})") == R"({"meta":{},"tags":[]})");
  }

  TEST_CASE("template: a dotted key is a nested path, merged with its siblings") {
    CHECK(Render(R"({"location.city": "{{city}}", "location.area.name": "{{name}}"})") ==
          R"({"location":{"city":"Bengaluru","area":{"name":"Asha Rao"}}})");
    CHECK(Render(R"({"location": {"country": "IN"}, "location.city": "{{city}}"})") ==
          R"({"location":{"country":"IN","city":"Bengaluru"}})");
    CHECK(Render(R"({"location.city": "{{missing}}"})") == "<omitted>");
  }

  TEST_CASE("template: a key written $$ is the CRM's key beginning with $") {
    // Zoho's Tasks name their parent's module with the key $se_module.
    CHECK(Render(R"({"$$se_module": "Leads", "What_Id": "{{name}}"})") ==
          R"({"$se_module":"Leads","What_Id":"Asha Rao"})");
    CHECK(Render(R"({"$$$x": 1, "a": {"$$b.c": {"$const": "{{name}}"}}})") ==
          R"({"$$x":1,"a":{"$b":{"c":"{{name}}"}}})");
    CHECK(Render(R"({"$$v": "{{missing}}"})") == "<omitted>");
    TemplateRules rules;
    rules.known_variable = [](const std::string& name) { return name == "name"; };
    ErrorList errors;
    CheckJsonTemplate(Json(R"({"$$se_module": "{{name}}", "$se_module": "Leads",
                               "$$bad": "{{nope}}"})"),
                      "/body", rules, &errors);
    REQUIRE(errors.size() == 2);
    std::map<std::string, std::string> by_key(errors.begin(), errors.end());
    CHECK(by_key["/body/$se_module"] ==
          "unknown template key (expected $const or $from; write $$se_module for a CRM key that "
          "begins with $)");
    CHECK(by_key["/body/$$bad"].find("unknown variable 'nope'") != std::string::npos);
  }

  TEST_CASE("template: $const, constants and arrays of templates") {
    CHECK(Render(R"({"source": {"$const": "website"}, "obj": {"$const": {"a": "{{name}}"}}})") ==
          R"({"source":"website","obj":{"a":"{{name}}"}})");
    CHECK(Render(R"({"n": 5, "b": true, "z": null, "s": "plain"})") ==
          R"({"n":5,"b":true,"z":null,"s":"plain"})");
    CHECK(Render(R"({"tags": ["{{name}}", "{{missing}}", "x"]})") ==
          R"({"tags":["Asha Rao","x"]})");
    CHECK(Render(R"({"n": "{{name}}", "tags": ["{{missing}}"]})") == R"({"n":"Asha Rao"})");
  }

  TEST_CASE("template: $from with $transform, $default and $keepEmpty") {
    CHECK(Render(R"({"s": {"$from": "status", "$transform": ["status"]}})") == R"({"s":"won"})");
    CHECK(Render(R"({"s": {"$from": "{{status}}", "$transform": "lower"}})") ==
          R"({"s":"converted"})");
    CHECK(Render(R"({"s": {"$from": "missing", "$default": "unknown"}})") == R"({"s":"unknown"})");
    CHECK(Render(R"({"s": {"$from": "missing", "$default": 0}})") == R"({"s":0})");
    CHECK(Render(R"({"n": "{{name}}", "s": {"$from": "missing"}})") == R"({"n":"Asha Rao"})");
    CHECK(Render(R"({"s": {"$from": "missing", "$keepEmpty": true}})") == R"({"s":null})");
    CHECK(Render(R"({"s": {"$from": "empty", "$keepEmpty": true}})") == R"({"s":null})");
    // A transform whose lookup misses makes the value missing, so $default applies.
    CHECK(Render(
              R"({"s": {"$from": "name", "$transform": ["lookup:agents"], "$default": "none"}})") ==
          R"({"s":"none"})");
  }

  TEST_CASE("template: rendering never changes the template") {
    const Tables tables;
    const Var tmpl = Json(R"({"loc": {"$const": {"country": "IN"}}, "loc.city": "{{city}}"})");
    std::optional<Var> first;
    std::optional<Var> second;
    REQUIRE(RenderJson(tmpl, SampleContext(), tables.Get(), &first).ok());
    REQUIRE(RenderJson(tmpl, Context(), tables.Get(), &second).ok());
    CHECK(ToJson(*first) == R"({"loc":{"country":"IN","city":"Bengaluru"}})");
    CHECK(ToJson(*second) == R"({"loc":{"country":"IN"}})");
    CHECK(ToJson(tmpl) == R"({"loc":{"$const":{"country":"IN"}},"loc.city":"{{city}}"})");
  }

  TEST_CASE("transform: status and lookup") {
    CHECK(Render(R"({"s": {"$from": "status", "$transform": ["status"]}})") == R"({"s":"won"})");
    CHECK(Render(R"({"a": {"$from": "assignedToId", "$transform": ["lookup:agents"]}})") ==
          R"({"a":"agent_123"})");
    CHECK(Render(R"({"n": "{{name}}", "a": {"$from": "city", "$transform": ["lookup:agents"]}})") ==
          R"({"n":"Asha Rao"})");
    CHECK(Render(R"({"a": {"$from": "preferredLocation", "$transform": ["lookup:areas"]}})") ==
          R"({"a":["WF"]})");
  }

  TEST_CASE("transform: toString and toNumber") {
    CHECK(Render(R"({"v": {"$from": "budgetMin", "$transform": ["toString"]}})") ==
          R"({"v":"5000000"})");
    CHECK(Render(R"({"v": {"$from": "budgetMax", "$transform": ["toString"]}})") ==
          R"({"v":"7500000.5"})");
    CHECK(Render(R"({"v": {"$from": "count", "$transform": ["toNumber"]}})") == R"({"v":42})");
    CHECK(Render(R"({"v": {"$from": "budgetMax", "$transform": ["toNumber"]}})") ==
          R"({"v":7500000.5})");
    Status status;
    Render(R"({"v": {"$from": "word", "$transform": ["toNumber"]}})", &status);
    CHECK(status.code() == StatusCode::kInvalidRecord);
    CHECK(status.message().find("word") != std::string::npos);
    CHECK(status.message().find("abc") == std::string::npos);  // values stay out of messages
  }

  TEST_CASE("transform: upper, lower, join and split") {
    CHECK(Render(R"({"v": {"$from": "name", "$transform": ["upper"]}})") == R"({"v":"ASHA RAO"})");
    CHECK(Render(R"({"v": {"$from": "name", "$transform": ["lower"]}})") == R"({"v":"asha rao"})");
    CHECK(Render(R"({"v": {"$from": "preferredLocation", "$transform": ["upper"]}})") ==
          R"({"v":["WHITEFIELD","INDIRANAGAR"]})");
    CHECK(Render(R"({"v": {"$from": "preferredLocation", "$transform": ["join:;"]}})") ==
          R"({"v":"Whitefield;Indiranagar"})");
    CHECK(Render(R"({"v": {"$from": "preferredLocation", "$transform": ["join:, "]}})") ==
          R"({"v":"Whitefield, Indiranagar"})");
    CHECK(Render(R"({"v": {"$from": "csv", "$transform": ["split:,"]}})") ==
          R"({"v":["a","b","c"]})");
    CHECK(Render(R"({"v": {"$from": "csv", "$transform": ["split:,", "upper", "join:|"]}})") ==
          R"({"v":"A|B|C"})");
  }

  TEST_CASE("transform: soqlString escapes a SOQL string literal, and {{name | transform}} applies it") {
    Context context = SampleContext();
    context["ref"] = Var(std::string("lead:O'Brien \\ \"x\"\n"));
    const Tables tables;
    std::optional<Var> out;
    REQUIRE(RenderJson(Json(R"({"q": "SELECT Id FROM Lead WHERE R__c = '{{ref | soqlString}}'"})"),
                       context, tables.Get(), &out)
                .ok());
    CHECK(ToJson(*out) ==
          R"({"q":"SELECT Id FROM Lead WHERE R__c = 'lead:O\\'Brien \\\\ \\\"x\\\"\\n'"})");
    // A sole variable keeps its JSON type through transforms; several chain.
    CHECK(Render(R"({"v": "{{name|upper}}", "w": "{{ name | lower | soqlString }}"})") ==
          R"({"v":"ASHA RAO","w":"asha rao"})");
    CHECK(Render(R"({"v": "{{status | status}}!"})") == R"({"v":"won!"})");
    CHECK(Render(R"({"v": {"$from": "name", "$transform": ["soqlString"]}})") ==
          R"({"v":"Asha Rao"})");
    Status status;
    Render(R"({"v": "n={{word | toNumber}}"})", &status);
    CHECK(status.code() == StatusCode::kInvalidRecord);

    TemplateRules rules;
    rules.known_variable = [](const std::string& name) { return name == "name"; };
    ErrorList errors;
    CheckJsonTemplate(Json(R"({"a": "x {{name | soqlString}}", "b": "{{name | soqlStrin}}",
                               "c": "{{name | }}", "d": "{{name | soqlString:x}}"})"),
                      "/body", rules, &errors);
    REQUIRE(errors.size() == 3);
    std::map<std::string, std::string> by_key(errors.begin(), errors.end());
    CHECK(by_key["/body/b"].find("unknown transform 'soqlStrin'; did you mean 'soqlString'?") !=
          std::string::npos);
    CHECK(by_key["/body/c"] == "an empty transform after '|'");
    CHECK(by_key["/body/d"] == "transform 'soqlString' takes no argument");
    // Text templates (headers of the mapping, auth) take no transforms.
    errors.clear();
    CheckTextTemplate("{{name | soqlString}}", "/headers/X", rules, &errors);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].second == "'name | soqlString' is not a variable name");
    TransformRules inbound;
    inbound.direction = TransformDirection::kInbound;
    CHECK(CheckTransform("soqlString", inbound) ==
          "transform 'soqlString' is for outbound templates (it escapes a SOQL string literal)");
  }

  TEST_CASE("transform: date formats, epochMillis and epochSeconds") {
    CHECK(Render(R"({"d": {"$from": "createdAt", "$transform": ["date:%Y-%m-%d"]}})") ==
          R"({"d":"2026-11-23"})");
    CHECK(Render(R"({"d": {"$from": "createdAt", "$transform": ["date:%d/%m/%Y %H:%M"]}})") ==
          R"({"d":"23/11/2026 10:15"})");
    CHECK(Render(R"({"d": {"$from": "createdAt", "$transform": ["date:epochSeconds"]}})") ==
          R"({"d":1795428930})");
    CHECK(Render(R"({"d": {"$from": "createdAt", "$transform": ["date:epochMillis"]}})") ==
          R"({"d":1795428930000})");
    Var out;
    CHECK(FormatDate("2026-11-23T12:15:30+02:00", "epochSeconds", &out));
    CHECK(out.convert<Poco::Int64>() == 1795428930);
    CHECK(FormatDate("2026-11-23", "%Y/%m/%d", &out));
    CHECK(out.extract<std::string>() == "2026/11/23");
    Status status;
    Render(R"({"d": {"$from": "word", "$transform": ["date:%Y"]}})", &status);
    CHECK(status.code() == StatusCode::kInvalidRecord);
  }

  TEST_CASE("transform: default: gives a missing value a text") {
    CHECK(Render(R"({"v": {"$from": "missing", "$transform": ["default:n/a"]}})") ==
          R"({"v":"n/a"})");
    CHECK(Render(R"({"v": {"$from": "empty", "$transform": ["default:n/a", "upper"]}})") ==
          R"({"v":"N/A"})");
    CHECK(Render(R"({"v": {"$from": "name", "$transform": ["default:n/a"]}})") ==
          R"({"v":"Asha Rao"})");
  }

  TEST_CASE("transform: statusIn and lookupReverse map CRM values back") {
    const Tables tables;
    Var value = Var(std::string("closed_won"));
    CHECK(ApplyTransforms({"statusIn"}, tables.Get(), "status", &value).ok());
    CHECK(value.extract<std::string>() == "CONVERTED");
    value = Var(std::string("WON"));  // a CRM that changes case
    CHECK(ApplyTransforms({"statusIn"}, tables.Get(), "status", &value).ok());
    CHECK(value.extract<std::string>() == "CONVERTED");
    value = Var(std::string("archived"));
    const Status status = ApplyTransforms({"statusIn"}, tables.Get(), "status", &value);
    CHECK(status.code() == StatusCode::kInvalidRecord);
    value = Var(std::string("agent_123"));
    CHECK(ApplyTransforms({"lookupReverse:agents"}, tables.Get(), "agent", &value).ok());
    CHECK(value.extract<std::string>() == "dealer-7");
    value = Var(std::string("agent_000"));
    CHECK(ApplyTransforms({"lookupReverse:agents"}, tables.Get(), "agent", &value).ok());
    CHECK(value.isEmpty());
  }

  TEST_CASE("transform: CheckTransform accepts the doc's forms and names the problem") {
    TransformRules rules;
    rules.lookup_tables = {"agents"};
    rules.has_status_map = true;
    for (const char* spec :
         {"status", "lookup:agents", "toString", "toNumber", "upper", "lower", "join:,", "split:;",
          "date:%Y-%m-%d", "date:epochMillis", "date:epochSeconds", "default:none", "default:"}) {
      CAPTURE(spec);
      CHECK(CheckTransform(spec, rules) == "");
    }
    CHECK(CheckTransform("trim", rules) ==
          "unknown transform 'trim' (valid: status, source, lookup:<table>, toString, toNumber, upper, "
          "lower, join:<sep>, split:<sep>, date:<format>, default:<text>, soqlString)");
    CHECK(CheckTransform("Upper", rules)
              .rfind("unknown transform 'Upper'; did you mean 'upper'? "
                     "(valid: ",
                     0) == 0);
    CHECK(CheckTransform("lookup:nobody", rules) ==
          "unknown lookup table 'nobody' (the mapping's lookups: agents)");
    CHECK(CheckTransform("lookup:agent", rules) ==
          "unknown lookup table 'agent'; did you mean 'agents'? (the mapping's lookups: agents)");
    CHECK(CheckTransform("lookup:agents", TransformRules()) ==
          "unknown lookup table 'agents' (the mapping has no lookups)");
    CHECK(CheckTransform("upper:x", rules) == "transform 'upper' takes no argument");
    rules.has_status_map = false;
    CHECK(CheckTransform("status", rules).find("needs a statusMap") != std::string::npos);
  }

  TEST_CASE("template: path templates URL-encode their values") {
    Context context;
    context["externalId"] = Var(std::string("a b/c?d"));
    context["n"] = NumberValue(7);
    std::string path;
    REQUIRE(RenderPath("/api/v1/leads/{externalId}/x/{{n}}", context, &path).ok());
    CHECK(path == "/api/v1/leads/a%20b%2Fc%3Fd/x/7");
    const Status missing = RenderPath("/leads/{externalId}/{other}", context, &path);
    CHECK(missing.code() == StatusCode::kPermanent);
    CHECK(missing.message().find("'other'") != std::string::npos);
    CHECK(UrlEncode("lead:42") == "lead%3A42");
  }

  TEST_CASE("template: query and header values render as text") {
    const Tables tables;
    std::optional<std::string> text;
    REQUIRE(RenderValueText(Var(std::string("{{preferredLocation}}")), SampleContext(),
                            tables.Get(), &text)
                .ok());
    CHECK(text.value_or("") == "Whitefield,Indiranagar");
    REQUIRE(RenderValueText(Var(std::string("{{budgetMin}}")), SampleContext(), tables.Get(), &text)
                .ok());
    CHECK(text.value_or("") == "5000000");
    REQUIRE(RenderValueText(Var(std::string("{{missing}}")), SampleContext(), tables.Get(), &text)
                .ok());
    CHECK_FALSE(text.has_value());
  }

  TEST_CASE("context: a lead job's variables, by wire name") {
    SyncJob job = LeadJob("42", LeadStatus::kConverted);
    job.external_id = "crm-9";
    job.lead->lost_reason = std::nullopt;
    const Context context = JobContext(job, 1795428930000LL);
    CHECK(context.at("id").extract<std::string>() == "42");
    CHECK(context.at("name").extract<std::string>() == "Asha Rao");
    CHECK(context.at("status").extract<std::string>() == "CONVERTED");
    CHECK(ToJson(context.at("budgetMin")) == "5000000");
    CHECK(ToJson(context.at("budgetMax")) == "7500000.5");
    CHECK(ToJson(context.at("preferredLocation")) == R"(["Whitefield","Indiranagar"])");
    CHECK(context.at("externalId").extract<std::string>() == "crm-9");
    CHECK(context.at("externalReference").extract<std::string>() == "lead:42");
    CHECK(context.at("entityId").extract<std::string>() == "42");
    CHECK(context.at("eventId").extract<std::string>() == "evt-42");
    CHECK(context.at("eventType").extract<std::string>() == "lead.status_changed");
    CHECK(context.at("now").extract<std::string>() == "2026-11-23T10:15:30Z");
    CHECK(context.count("lostReason") == 0);
    CHECK(context.count("inquiry.message") == 0);
    for (const std::string& field : PlatformFields(EntityKind::kLead)) {
      CHECK(IsJobVariable(EntityKind::kLead, field));
    }
    CHECK_FALSE(IsJobVariable(EntityKind::kLead, "title"));
    CHECK(IsJobVariable(EntityKind::kProperty, "title"));
  }

  TEST_CASE("context: inquiries, dealer assignments and properties") {
    SyncJob inquiry;
    inquiry.event_type = EventType::kInquirySubmitted;
    inquiry.entity_id = "42";
    inquiry.inquiry = Inquiry();
    inquiry.inquiry->id = "inq-1";
    inquiry.inquiry->lead_id = "42";
    inquiry.inquiry->message = "Is it still available?";
    inquiry.inquiry->property_id = "p-9";
    inquiry.inquiry->lead = LeadJob("42").lead.value();
    Context context = JobContext(inquiry, 0);
    CHECK(context.at("inquiry.message").extract<std::string>() == "Is it still available?");
    CHECK(context.at("inquiry.propertyId").extract<std::string>() == "p-9");
    CHECK(context.at("name").extract<std::string>() == "Asha Rao");
    CHECK(context.at("externalReference").extract<std::string>() == "lead:42");

    SyncJob assignment;
    assignment.event_type = EventType::kDealerAssigned;
    assignment.entity_id = "42";
    assignment.assignment = DealerAssignment{"42", "dealer-9", std::string("2026-11-23T10:00:00Z")};
    context = JobContext(assignment, 0);
    CHECK(context.at("assignment.dealerId").extract<std::string>() == "dealer-9");
    CHECK(context.at("assignedToId").extract<std::string>() == "dealer-9");
    CHECK(context.at("id").extract<std::string>() == "42");
    CHECK(context.count("preferredLocation") == 0);

    SyncJob property;
    property.event_type = EventType::kPropertyCreated;
    property.entity_kind = EntityKind::kProperty;
    property.entity_id = "p-1";
    property.property = Property();
    property.property->id = "p-1";
    property.property->price = 12500000;
    property.property->status = PropertyStatus::kSold;
    context = JobContext(property, 0);
    CHECK(ToJson(context.at("price")) == "12500000");
    CHECK(context.at("status").extract<std::string>() == "SOLD");
    CHECK(context.at("externalReference").extract<std::string>() == "property:p-1");
  }

}  // TEST_SUITE
}  // namespace
}  // namespace crmsync::genericrest
