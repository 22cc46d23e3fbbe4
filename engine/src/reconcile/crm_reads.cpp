// Rate-limited CRM reads; see crm_reads.h.
#include "reconcile/crm_reads.h"

#include <algorithm>

namespace crmsync::engine {
template <typename F>
Status CrmReads::Within(F&& call) {
  Status s;
  int64_t backoff_ms = first_backoff_ms_;
  for (int attempt = 1; attempt <= kTries; ++attempt) {
    RateTicket ticket;
    if (limiter_) {
      // The budget is spent: wait for the limiter's time, then ask again.
      for (int64_t wait = limiter_->TryAcquire(clock_->NowMs(), &ticket); wait > 0;
           wait = limiter_->TryAcquire(clock_->NowMs(), &ticket)) {
        if (!worker_->Wait(wait)) return Status::Retryable("stopping");
      }
    }
    if (worker_->Stopping()) return Status::Retryable("stopping");
    bool answered = false;
    s = call(&answered);
    calls_.fetch_add(1);
    if (limiter_ && answered) limiter_->OnAnswer(clock_->NowMs(), ticket, RateAnswerOf(s));
    if (!s.IsTransient() || attempt == kTries) return s;
    if (!worker_->Wait(std::max(backoff_ms, s.retry_after_ms()))) {
      return Status::Retryable("stopping");
    }
    backoff_ms *= 2;
  }
  return s;
}

Status CrmReads::ListRecords(const RecordListRequest& request, RecordListPage* page) {
  return Within([&](bool* answered) {
    *page = RecordListPage();
    Status s = adapter_->ListRecords(request, page);
    *answered = IsCrmAnswer(s);
    if (s.ok() && page->more && page->next_cursor.empty()) {
      return Status::Retryable("plugin " + adapter_->name() +
                               " answered a list page with more to come but no next cursor");
    }
    return s;
  });
}

Status CrmReads::ReadRecord(EntityKind kind, const std::string& external_id, CrmRecord* record) {
  return Within([&](bool* answered) {
    *record = CrmRecord();
    Status s = adapter_->ReadRecord(kind, external_id, record);
    *answered = IsCrmAnswer(s);
    return s;
  });
}

Status CrmReads::Lookup(const SyncJob& job, std::optional<std::string>* found) {
  HttpRequest request;
  Status built = adapter_->BuildLookup(job, &request);
  if (!built.ok()) return built;
  return Within([&](bool* answered) {
    found->reset();
    HttpResponse response = adapter_->Send(request);
    *answered = response.error == TransportError::kNone && response.status > 0;
    Status s = adapter_->Classify(request, response);
    if (!s.ok() && s.code() != StatusCode::kNotFound) {
      // A lookup that failed says nothing about the record: never "none".
      if (s.IsTransient()) return s;
      return Status::Permanent("lookup by reference failed: " + s.ToString());
    }
    return adapter_->ReadLookup(job, response, found);
  });
}

}  // namespace crmsync::engine
