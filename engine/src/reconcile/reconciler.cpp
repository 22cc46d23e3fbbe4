// Reconcile runs; see reconciler.h.
#include "reconcile/reconciler.h"

#include <optional>
#include <sstream>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>

#include "common/logging.h"
#include "crmsync/redact.h"
#include "dispatch/job_codec.h"

namespace crmsync::engine {

const char* const kFindingKinds[] = {"missing",           "differs", "crm_owned",
                                     "unknown_to_mirror", "broken_link",
                                     "wrong_reference",   "unknown"};
const size_t kFindingKindCount = sizeof(kFindingKinds) / sizeof(kFindingKinds[0]);

namespace {

using Poco::JSON::Array;
using Poco::JSON::Object;

// Seen ids are kept in chunks of one list page each, under
// "<run>/seen/<kind>/<n>".
std::string SeenKey(const std::string& run, EntityKind kind, int64_t chunk) {
  return run + "/seen/" + EntityKindName(kind) + "/" + std::to_string(chunk);
}

void AddInt(Object& o, const std::string& key, int64_t n) { o.set(key, RunInt(o, key) + n); }

// A finding: counted, and kept as a row while its kind has room.
struct Finding {
  std::string kind;
  EntityKind entity_kind = EntityKind::kLead;
  std::string entity_id;
  std::string crm_id;
  std::vector<FieldDiff> fields;
  std::string note;
};

void Record(Object& state, const Finding& f, int rows_per_kind) {
  Object::Ptr counts = state.getObject("counts");
  AddInt(*counts, f.kind, 1);
  Object::Ptr rows = state.getObject("rows");
  Array::Ptr list = rows->getArray(f.kind);
  if (!list) {
    list = new Array();
    rows->set(f.kind, list);
  }
  if (static_cast<int>(list->size()) >= rows_per_kind) return;
  Object::Ptr row = new Object();
  row->set("kind", f.kind);
  row->set("entity", ExternalReference(f.entity_kind, f.entity_id));
  if (!f.crm_id.empty()) row->set("crmId", f.crm_id);
  Array::Ptr fields = new Array();
  for (const FieldDiff& d : f.fields) {
    Object::Ptr field = new Object();
    field->set("field", d.field);
    field->set("mirror", d.mirror);
    field->set("crm", d.crm);
    fields->add(field);
  }
  row->set("fields", fields);
  if (!f.note.empty()) row->set("note", MaskSensitive(f.note));
  list->add(row);
}

// The repair of one entity: a bulk resend of the mirror as it stands.
IncomingEvent Repair(const std::string& run, EntityKind kind, const MirrorEntry& entry,
                     int64_t now_ms) {
  IncomingEvent e;
  e.event_id = "repair:" + run + ":" + EntityKindName(kind) + ":" + entry.id;
  e.type = kind == EntityKind::kLead ? EventType::kLeadCreated : EventType::kPropertyUpdated;
  e.priority = Priority::kBulk;
  e.occurred_at = FormatIsoMs(now_ms);
  e.kind = kind;
  e.entity_id = entry.id;
  e.entity_json = entry.data;
  e.resend = true;
  return e;
}

// What a repair that sends the entity may name: every field of the mirror's
// entity but those whose CRM value differs and is the CRM's (a status an
// agent moved on), which a repair leaves alone; nullopt (the entity whole)
// when there is none such.
std::optional<std::vector<std::string>> FieldsBut(const std::string& entity_json,
                                                  const std::vector<FieldDiff>& crm_owned) {
  if (crm_owned.empty()) return std::nullopt;
  std::vector<std::string> fields;
  Poco::Dynamic::Var parsed = Poco::JSON::Parser().parse(entity_json);
  for (const auto& [name, value] : *parsed.extract<Object::Ptr>()) {
    bool owned = false;
    for (const FieldDiff& d : crm_owned) owned = owned || d.field == name;
    if (!owned && name != "id") fields.push_back(name);
  }
  return fields;
}

// "lead:42" -> (lead, "42"); false when it is not a reference of ours.
bool ParseReference(const std::string& reference, EntityKind* kind, std::string* id) {
  size_t colon = reference.find(':');
  if (colon == std::string::npos || colon + 1 >= reference.size()) return false;
  if (!ParseEntityKind(reference.substr(0, colon), kind)) return false;
  *id = reference.substr(colon + 1);
  return true;
}

Object::Ptr NewState(const std::string& run, const std::string& entity, bool repair,
                     int64_t now_ms) {
  Object::Ptr state = new Object();
  state->set("run", run);
  state->set("entity", entity.empty() ? "all" : entity);
  state->set("repair", repair);
  state->set("state", "running");
  state->set("startedAt", FormatIsoMs(now_ms));
  state->set("kindIndex", 0);
  state->set("phase", "list");
  state->set("cursor", "");
  state->set("after", "");
  state->set("seenChunks", 0);
  state->set("fieldsCompared", true);
  state->set("checked", 0);
  state->set("total", 0);
  state->set("crmCalls", 0);
  state->set("repairsQueued", 0);
  Object::Ptr counts = new Object();
  for (size_t i = 0; i < kFindingKindCount; ++i) counts->set(kFindingKinds[i], 0);
  state->set("counts", counts);
  state->set("rows", Object::Ptr(new Object()));
  state->set("notes", Array::Ptr(new Array()));
  return state;
}

void Note(Object& state, const std::string& note) {
  Array::Ptr notes = state.getArray("notes");
  for (size_t i = 0; i < notes->size(); ++i) {
    if (notes->getElement<std::string>(static_cast<unsigned>(i)) == note) return;
  }
  notes->add(note);
}

// What the API shows of a run: the state less its cursors.
Object::Ptr Shown(const Object::Ptr& state) {
  if (!state) return nullptr;
  Object::Ptr shown = new Object(*state);
  for (const char* internal : {"kindIndex", "phase", "cursor", "after", "seenChunks"}) {
    shown->remove(internal);
  }
  return shown;
}

}  // namespace

Reconciler::Reconciler(ReconcileOptions options, Store* store, GuardedAdapter* adapter,
                       RateLimiter* limiter, Clock* clock, MetricsRegistry* metrics,
                       std::function<void()> on_queued)
    : options_(std::move(options)),
      store_(store),
      adapter_(adapter),
      clock_(clock),
      metrics_(metrics),
      on_queued_(std::move(on_queued)),
      book_("reconcile", store, clock),
      crm_(adapter, limiter, clock, &worker_, options_.first_backoff_ms) {}

Reconciler::~Reconciler() { Stop(); }

void Reconciler::Start() {
  ResumeUnfinished(book_, worker_, [this](const std::string& run) { Run(run); });
}

void Reconciler::Stop() { worker_.Stop(); }

bool Reconciler::Begin(const std::string& entity, bool repair, std::string* run, bool* attached,
                       bool* conflict, std::string* error) {
  *attached = false;
  *conflict = false;
  if (!CheckRunEntity(entity, error)) return false;
  std::lock_guard<std::mutex> lock(begin_mu_);
  if (AttachUnfinished(book_, worker_, [this](const std::string& id) { Run(id); }, run)) {
    *attached = true;
    return true;
  }
  if (!adapter_->ReadsRecords() && !options_.lookup_by_reference) {
    *conflict = true;
    *error = "plugin " + options_.plugin +
             " can neither list its CRM records (RecordReader) nor look them up by reference "
             "(its capabilities say no lookup_by_reference): reconcile cannot read the CRM";
    return false;
  }
  *run = book_.NewRunId();
  Object::Ptr state = NewState(*run, entity, repair, clock_->NowMs());
  int64_t total = 0;
  for (EntityKind kind : RunKinds(*state)) total += store_->CountMirror(kind);
  state->set("total", total);
  book_.Save(*run, *state);
  book_.SetCurrent(*run);
  if (metrics_) {
    metrics_->GetCounter("crmsync_reconcile_runs_total", "Reconcile runs started.").Inc();
  }
  const std::string id = *run;
  worker_.Launch([this, id] { Run(id); });
  return true;
}

Poco::JSON::Object::Ptr Reconciler::Get(const std::string& run) const {
  return Shown(book_.Load(run));
}

std::vector<Poco::JSON::Object::Ptr> Reconciler::Recent() const {
  std::vector<Object::Ptr> runs;
  for (const std::string& id : book_.Recent()) {
    if (Object::Ptr state = Shown(book_.Load(id))) runs.push_back(state);
  }
  return runs;
}

std::string Reconciler::LastJson() const {
  Object::Ptr state = book_.Last();
  if (!state) return "null";
  Object brief;
  for (const char* key : {"run", "state", "entity", "repair", "startedAt", "finishedAt", "counts",
                          "repairsQueued", "fieldsCompared", "checked", "total", "error"}) {
    if (state->has(key)) brief.set(key, state->get(key));
  }
  std::ostringstream out;
  brief.stringify(out);
  return out.str();
}

int64_t Reconciler::LastCount(const std::string& kind) const {
  Object::Ptr state = book_.Last();
  Object::Ptr counts = state ? state->getObject("counts") : nullptr;
  return counts ? RunInt(*counts, kind) : 0;
}

bool Reconciler::Running() const { return worker_.Busy(); }

void Reconciler::Run(const std::string& run) {
  Object::Ptr state = book_.Load(run);
  if (!state || state->optValue<std::string>("state", "") != "running") {
    book_.SetCurrent("");
    return;
  }
  seen_.clear();
  seen_for_.clear();
  const int64_t calls_before = crm_.calls();
  const int64_t saved_calls = RunInt(*state, "crmCalls");
  int store_failures = 0;
  while (!worker_.Stopping()) {
    bool more = false;
    try {
      more = Step(run, *state);
      store_failures = 0;
    } catch (const std::exception& e) {
      // The store failed mid-page: nothing of the page was saved, so it is
      // done again from the last saved state.
      ComponentLogger("reconcile").error("reconcile run %s: %s", run, MaskSensitive(e.what()));
      if (++store_failures >= 5) {
        Fail(run, *state, std::string("the store failed: ") + e.what());
        return;
      }
      state = book_.Load(run);
      if (!state || !worker_.Wait(1000)) return;
      continue;
    }
    state->set("crmCalls", saved_calls + crm_.calls() - calls_before);
    if (!more) break;
  }
  if (worker_.Stopping()) return;
  if (state->optValue<std::string>("state", "") == "running") {
    state->set("state", "done");
    state->set("finishedAt", FormatIsoMs(clock_->NowMs()));
    state->set("crmCalls", saved_calls + crm_.calls() - calls_before);
    book_.Save(run, *state);
    book_.SetCurrent("");
    Object::Ptr counts = state->getObject("counts");
    std::string summary;
    for (size_t i = 0; i < kFindingKindCount; ++i) {
      summary += std::string(i ? ", " : "") + kFindingKinds[i] + " " +
                 std::to_string(RunInt(*counts, kFindingKinds[i]));
    }
    ComponentLogger("reconcile").information("reconcile run %s done: %s; %s CRM calls", run,
                                             summary,
                                             std::to_string(RunInt(*state, "crmCalls")));
  }
}

void Reconciler::Fail(const std::string& run, Poco::JSON::Object& state,
                      const std::string& error) {
  state.set("state", "failed");
  state.set("error", MaskSensitive(error));
  state.set("finishedAt", FormatIsoMs(clock_->NowMs()));
  book_.Save(run, state);
  book_.SetCurrent("");
  ComponentLogger("reconcile").error("reconcile run %s failed: %s", run, MaskSensitive(error));
}

bool Reconciler::Step(const std::string& run, Poco::JSON::Object& state) {
  const std::vector<EntityKind> kinds = RunKinds(state);
  const int64_t index = RunInt(state, "kindIndex");
  if (index >= static_cast<int64_t>(kinds.size())) return false;
  const EntityKind kind = kinds[static_cast<size_t>(index)];
  const std::string phase = state.optValue<std::string>("phase", "list");
  if (phase == "list") return ListPage(run, state, kind);
  if (phase == "missing") return MissingPage(run, state, kind);
  return LookupPage(run, state, kind);
}

bool Reconciler::Queue(std::vector<IncomingEvent>& events, Poco::JSON::Object& state) {
  if (events.empty() || !state.optValue<bool>("repair", false)) return true;
  std::vector<AcceptResult> results = store_->Accept(events, clock_->NowMs());
  int64_t queued = 0;
  for (const AcceptResult& r : results) {
    if (!r.duplicate && r.job_id > 0) ++queued;
  }
  // A resumed page queues nothing twice (the ids are known), and counts the
  // jobs once: the count is saved with the page.
  AddInt(state, "repairsQueued", static_cast<int64_t>(events.size()));
  if (metrics_ && queued > 0) {
    metrics_->GetCounter("crmsync_reconcile_repairs_total", "Repair jobs reconcile queued.")
        .Inc(static_cast<double>(queued));
  }
  if (on_queued_) on_queued_();
  return true;
}

bool Reconciler::ListPage(const std::string& run, Poco::JSON::Object& state, EntityKind kind) {
  const std::string kinds = kind == EntityKind::kLead ? "leads" : "properties";
  auto to_lookup = [&](const std::string& why) {
    state.set("phase", "lookup");
    state.set("after", "");
    state.set("fieldsCompared", false);
    Note(state, kinds + ": " + why +
                    "; each entity was looked up by reference instead, fields were not compared");
    book_.Save(run, state);
    return true;
  };
  if (!adapter_->ReadsRecords()) {
    if (!options_.lookup_by_reference) {
      Fail(run, state, "plugin " + options_.plugin + " cannot list or look up records");
      return false;
    }
    return to_lookup("plugin " + options_.plugin + " does not list its records");
  }
  RecordListRequest request;
  request.entity_kind = kind;
  request.cursor = state.optValue<std::string>("cursor", "");
  RecordListPage page;
  Status s = crm_.ListRecords(request, &page);
  if (worker_.Stopping()) return false;
  if (s.code() == StatusCode::kNotFound && request.cursor.empty()) {
    if (!options_.lookup_by_reference) {
      Fail(run, state, "plugin " + options_.plugin + " cannot list " + kinds +
                           ", nor look them up by reference: " + s.message());
      return false;
    }
    return to_lookup("plugin " + options_.plugin + " cannot list " + kinds);
  }
  if (!s.ok()) {
    Fail(run, state, "listing the CRM's " + kinds + " failed: " + s.ToString());
    return false;
  }
  const int rows = options_.rows_per_kind;
  std::string seen;
  std::vector<IncomingEvent> repairs;
  int64_t checked = 0;
  for (const CrmRecord& record : page.records) {
    EntityKind ref_kind;
    std::string id;
    // A record without our reference is the CRM's own (an agent made it).
    if (record.external_reference.empty() ||
        !ParseReference(record.external_reference, &ref_kind, &id)) {
      continue;
    }
    std::optional<MirrorEntry> entry = store_->GetMirrorEntry(ref_kind, options_.plugin, id);
    if (!entry) {
      Finding f{"unknown_to_mirror", ref_kind, id, record.external_id, {},
                "the CRM record carries a reference the mirror does not know"};
      Record(state, f, rows);
      continue;
    }
    if (ref_kind != kind) continue;  // listed under another kind: checked with its own
    ++checked;
    seen += id + "\n";
    std::vector<FieldDiff> diffs;
    std::string error;
    if (!CompareFields(kind, entry->data, record.fields_json, options_.ownership, &diffs,
                       &error)) {
      Record(state, Finding{"unknown", kind, id, record.external_id, {}, error}, rows);
      continue;
    }
    std::vector<FieldDiff> platform, crm;
    for (const FieldDiff& d : diffs) (d.crm_owned ? crm : platform).push_back(d);
    const bool linked_here = entry->external_id && *entry->external_id == record.external_id;
    if (!crm.empty()) Record(state, Finding{"crm_owned", kind, id, record.external_id, crm, ""}, rows);
    if (!linked_here) {
      std::string note = entry->external_id
                             ? "linked to " + *entry->external_id + ", the CRM record carrying "
                                                                    "the reference is " +
                                   record.external_id
                             : "not linked; the CRM record carrying the reference is " +
                                   record.external_id;
      Record(state, Finding{"broken_link", kind, id, record.external_id, platform, note}, rows);
      IncomingEvent e = Repair(run, kind, *entry, clock_->NowMs());
      e.forget_link_plugin = options_.plugin;
      e.lookup_first = options_.lookup_by_reference;
      // Linked to the record found, the update leaves the CRM's fields alone.
      e.resend_fields = FieldsBut(entry->data, crm);
      repairs.push_back(e);
    } else if (!platform.empty()) {
      Record(state, Finding{"differs", kind, id, record.external_id, platform, ""}, rows);
      IncomingEvent e = Repair(run, kind, *entry, clock_->NowMs());
      std::vector<std::string> names;
      for (const FieldDiff& d : platform) names.push_back(d.field);
      e.resend_fields = names;
      repairs.push_back(e);
    }
  }
  // What the page saw, before the cursor moves past it; then its repairs.
  const int64_t chunk = RunInt(state, "seenChunks");
  book_.Put(SeenKey(run, kind, chunk), seen);
  Queue(repairs, state);
  state.set("seenChunks", chunk + 1);
  AddInt(state, "checked", checked);
  if (page.more) {
    state.set("cursor", page.next_cursor);
  } else {
    state.set("phase", "missing");
    state.set("after", "");
  }
  book_.Save(run, state);
  return true;
}

void Reconciler::LoadSeen(const std::string& run, const Poco::JSON::Object& state,
                          EntityKind kind) {
  const std::string key = run + "/" + EntityKindName(kind);
  if (seen_for_ == key) return;
  seen_.clear();
  const int64_t chunks = RunInt(state, "seenChunks");
  for (int64_t i = 0; i < chunks; ++i) {
    std::istringstream in(book_.Get(SeenKey(run, kind, i)).value_or(""));
    std::string id;
    while (std::getline(in, id)) {
      if (!id.empty()) seen_.insert(id);
    }
  }
  seen_for_ = key;
}

namespace {

// Past the last mirror page of a kind: on to the next kind's list.
void NextKind(Poco::JSON::Object& state) {
  state.set("kindIndex", RunInt(state, "kindIndex") + 1);
  state.set("phase", "list");
  state.set("cursor", "");
  state.set("after", "");
  state.set("seenChunks", 0);
}

}  // namespace

bool Reconciler::MissingPage(const std::string& run, Poco::JSON::Object& state, EntityKind kind) {
  LoadSeen(run, state, kind);
  std::vector<MirrorEntry> entries = store_->ListMirror(
      kind, options_.plugin, state.optValue<std::string>("after", ""), options_.page_size);
  if (entries.empty()) {
    // The seen ids served their purpose: their keys are emptied.
    for (int64_t i = 0; i < RunInt(state, "seenChunks"); ++i) book_.Put(SeenKey(run, kind, i), "");
    seen_.clear();
    seen_for_.clear();
    NextKind(state);
    book_.Save(run, state);
    return true;
  }
  const int rows = options_.rows_per_kind;
  std::vector<IncomingEvent> repairs;
  int64_t checked = 0;
  for (const MirrorEntry& entry : entries) {
    if (seen_.count(entry.id)) continue;
    ++checked;
    if (!entry.external_id) {
      Record(state, Finding{"missing", kind, entry.id, "", {}, ""}, rows);
      IncomingEvent e = Repair(run, kind, entry, clock_->NowMs());
      e.lookup_first = options_.lookup_by_reference;
      repairs.push_back(e);
      continue;
    }
    CrmRecord record;
    Status s = crm_.ReadRecord(kind, *entry.external_id, &record);
    if (worker_.Stopping()) return false;
    if (s.code() == StatusCode::kNotFound) {
      Record(state,
             Finding{"missing", kind, entry.id, *entry.external_id, {},
                     "linked to " + *entry.external_id + ", which the CRM no longer has"},
             rows);
      IncomingEvent e = Repair(run, kind, entry, clock_->NowMs());
      e.forget_link_plugin = options_.plugin;
      e.lookup_first = options_.lookup_by_reference;
      repairs.push_back(e);
    } else if (!s.ok()) {
      Record(state,
             Finding{"unknown", kind, entry.id, *entry.external_id, {},
                     "reading the linked CRM record failed: " + s.ToString()},
             rows);
    } else if (record.external_reference == ExternalReference(kind, entry.id)) {
      // Created or linked since the list passed it (a repair's job, a live
      // event): nothing to report.
      continue;
    } else {
      // Listed under no reference of this entity: the record carries none,
      // or another one.
      Record(state,
             Finding{"wrong_reference", kind, entry.id, *entry.external_id, {},
                     record.external_reference.empty()
                         ? "the linked CRM record carries no reference"
                         : "the linked CRM record carries the reference " +
                               record.external_reference},
             rows);
      IncomingEvent e = Repair(run, kind, entry, clock_->NowMs());
      if (!record.external_reference.empty()) {
        // The record is another entity's (or an agent's): a resend over the
        // link would overwrite it with this entity. No listed record carries
        // this one's reference, so it is missing: the link is dropped and
        // the entity created (looked up first when the plugin can).
        e.forget_link_plugin = options_.plugin;
        e.lookup_first = options_.lookup_by_reference;
        repairs.push_back(e);
        continue;
      }
      // The resend over the link leaves alone the fields the CRM owns.
      std::vector<FieldDiff> diffs, crm_owned;
      std::string error;
      if (CompareFields(kind, entry.data, record.fields_json, options_.ownership, &diffs,
                        &error)) {
        for (const FieldDiff& d : diffs) {
          if (d.crm_owned) crm_owned.push_back(d);
        }
      }
      e.resend_fields = FieldsBut(entry.data, crm_owned);
      repairs.push_back(e);
    }
  }
  Queue(repairs, state);
  AddInt(state, "checked", checked);
  state.set("after", entries.back().id);
  book_.Save(run, state);
  return true;
}

bool Reconciler::LookupPage(const std::string& run, Poco::JSON::Object& state, EntityKind kind) {
  std::vector<MirrorEntry> entries = store_->ListMirror(
      kind, options_.plugin, state.optValue<std::string>("after", ""), options_.page_size);
  if (entries.empty()) {
    NextKind(state);
    book_.Save(run, state);
    return true;
  }
  const int rows = options_.rows_per_kind;
  std::vector<IncomingEvent> repairs;
  for (const MirrorEntry& entry : entries) {
    LeasedJob leased;
    leased.kind = kind;
    leased.entity_id = entry.id;
    leased.payload = std::string("{\"") + EntityKindName(kind) + "\":" + entry.data + "}";
    SyncJob job;
    std::string error;
    if (!DecodeJob(leased, &job, &error)) {
      Record(state, Finding{"unknown", kind, entry.id, "", {}, error}, rows);
      continue;
    }
    std::optional<std::string> found;
    Status s = crm_.Lookup(job, &found);
    if (worker_.Stopping()) return false;
    const std::string linked = entry.external_id.value_or("");
    if (!s.ok()) {
      Record(state,
             Finding{"unknown", kind, entry.id, linked, {},
                     "the lookup by reference failed: " + s.ToString()},
             rows);
      continue;
    }
    if (!found) {
      Record(state,
             Finding{"missing", kind, entry.id, linked, {},
                     linked.empty() ? "" : "linked to " + linked +
                                               ", but no CRM record carries the reference"},
             rows);
      IncomingEvent e = Repair(run, kind, entry, clock_->NowMs());
      if (!linked.empty()) e.forget_link_plugin = options_.plugin;
      e.lookup_first = true;
      repairs.push_back(e);
    } else if (*found != linked) {
      Record(state,
             Finding{"broken_link", kind, entry.id, *found, {},
                     linked.empty() ? "not linked; the CRM record carrying the reference is " +
                                          *found
                                    : "linked to " + linked +
                                          ", the CRM record carrying the reference is " + *found},
             rows);
      IncomingEvent e = Repair(run, kind, entry, clock_->NowMs());
      e.forget_link_plugin = options_.plugin;
      e.lookup_first = true;
      repairs.push_back(e);
    }
  }
  Queue(repairs, state);
  AddInt(state, "checked", static_cast<int64_t>(entries.size()));
  state.set("after", entries.back().id);
  book_.Save(run, state);
  return true;
}

}  // namespace crmsync::engine
