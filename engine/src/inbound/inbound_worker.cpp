// The inbound worker; see inbound_worker.h.
#include "inbound/inbound_worker.h"

#include <chrono>
#include <sstream>
#include <typeinfo>

#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

#include "common/logging.h"

namespace crmsync::engine {

InboundWorker::InboundWorker(InboundLog* store, InboundRules rules, AgentDirectory* agents, Clock* clock,
                             MetricsRegistry* metrics)
    : store_(store), rules_(std::move(rules)), agents_(agents), clock_(clock), metrics_(metrics) {}

InboundWorker::~InboundWorker() { Stop(); }

void InboundWorker::Start() {
  // The delivery stays pending after a failed pass and is tried again on the next.
  loop_.Start(std::chrono::seconds(1), [this] { ProcessPending(); },
              [](const std::string& error) {
                ComponentLogger("inbound").error("processing deliveries failed: %s", error);
              });
}

void InboundWorker::Stop() { loop_.Stop(); }

void InboundWorker::Wake() { loop_.Wake(); }

void InboundWorker::MapAgents(InboundDelivery* delivery) {
  for (InboundChange& change : delivery->changes) {
    if (change.fields_json.find("assignedToId") == std::string::npos) continue;
    Poco::JSON::Object::Ptr fields;
    try {
      Poco::Dynamic::Var parsed = Poco::JSON::Parser().parse(change.fields_json);
      if (parsed.type() == typeid(Poco::JSON::Object::Ptr)) {
        fields = parsed.extract<Poco::JSON::Object::Ptr>();
      }
    } catch (const Poco::Exception&) {
    }
    if (!fields) continue;  // not an object: the store reports the change as invalid
    if (!fields->has("assignedToId") || fields->isNull("assignedToId")) continue;
    std::string agent = fields->get("assignedToId").toString();
    std::optional<std::string> dealer = agents_ ? agents_->DealerFor(agent) : std::nullopt;
    if (dealer) {
      fields->set("assignedToId", *dealer);
    } else {
      // A CRM agent the platform does not know: never write a CRM id into the
      // platform's dealer field.
      fields->remove("assignedToId");
      if (agents_) {
        agents_->ReportUnmatched("inbound", agent, "delivery " + delivery->id);
      } else {
        ComponentLogger("inbound").warning("delivery %s: unknown CRM agent; assignment ignored",
                                           delivery->id);
      }
      if (metrics_) {
        metrics_->GetCounter("crmsync_inbound_unknown_agents_total",
                             "CRM agent ids with no platform dealer.")
            .Inc();
      }
    }
    std::ostringstream out;
    Poco::JSON::Stringifier::stringify(fields, out);
    change.fields_json = out.str();
  }
}

int InboundWorker::ProcessPending() {
  std::lock_guard<std::mutex> process_lock(process_mu_);
  int processed = 0;
  while (true) {
    std::vector<InboundDelivery> batch = store_->PendingDeliveries(32);
    if (batch.empty()) return processed;
    bool progressed = false;
    for (InboundDelivery& delivery : batch) {
      MapAgents(&delivery);
      std::vector<InboundResult> results = store_->ApplyDelivery(delivery, rules_, clock_->NowMs());
      if (results.size() == 1 && results[0].kind == InboundResult::Kind::kDeferred) {
        continue;  // Still pending; a later pass (at most a second away) tries again.
      }
      progressed = true;
      bool changed = false;
      for (const InboundResult& r : results) {
        changed = changed || r.change_seq > 0;
        if (metrics_) {
          metrics_
              ->GetCounter("crmsync_inbound_changes_total", "CRM changes applied, by result.",
                           {{"result", InboundResultName(r.kind)}})
              .Inc();
        }
        LogWith(ComponentLogger("inbound"), Poco::Message::PRIO_INFORMATION,
                std::string("CRM change ") + InboundResultName(r.kind) +
                    (r.reason.empty() ? "" : ": " + r.reason),
                {{"delivery_id", delivery.id},
                 {"entity", r.entity_kind + ":" + r.entity_id},
                 {"outcome", InboundResultName(r.kind)}});
      }
      ++processed;
      if (changed && on_change_) on_change_();
    }
    if (!progressed) return processed;
  }
}

}  // namespace crmsync::engine
