// The reference CRM's status vocabulary; see crm_vocabulary.h.
#include "crm_vocabulary.h"

#include <cctype>

namespace crmsync::mockcrm {
namespace {

struct LeadWord {
  const char* word;
  LeadStatus status;
};

// Inbound words, the CRM's own first.
constexpr LeadWord kLeadWords[] = {
    {"new", LeadStatus::kNew},
    {"contacted", LeadStatus::kContacted},
    {"qualified", LeadStatus::kQualified},
    {"viewing_scheduled", LeadStatus::kViewingScheduled},
    {"viewed", LeadStatus::kViewed},
    {"negotiating", LeadStatus::kNegotiating},
    {"won", LeadStatus::kConverted},
    {"lost", LeadStatus::kLost},
    {"closed_won", LeadStatus::kConverted},
    {"converted", LeadStatus::kConverted},
    {"closed_lost", LeadStatus::kLost},
    {"negotiation", LeadStatus::kNegotiating},
};

struct PropertyWord {
  const char* word;
  PropertyStatus status;
};

constexpr PropertyWord kPropertyWords[] = {
    {"active", PropertyStatus::kActive},
    {"inactive", PropertyStatus::kInactive},
    {"sold", PropertyStatus::kSold},
};

// Lower case, with '-' and ' ' read as '_'.
std::string Normalize(const std::string& word) {
  std::string out;
  out.reserve(word.size());
  for (char c : word) {
    if (c == '-' || c == ' ') {
      out.push_back('_');
    } else {
      out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
  }
  return out;
}

}  // namespace

const char* CrmLeadStatus(LeadStatus status) noexcept {
  switch (status) {
    case LeadStatus::kNew:
      return "new";
    case LeadStatus::kContacted:
      return "contacted";
    case LeadStatus::kQualified:
      return "qualified";
    case LeadStatus::kViewingScheduled:
      return "viewing_scheduled";
    case LeadStatus::kViewed:
      return "viewed";
    case LeadStatus::kNegotiating:
      return "negotiating";
    case LeadStatus::kConverted:
      return "won";
    case LeadStatus::kLost:
      return "lost";
  }
  return "new";
}

bool IsCrmLeadStatus(const std::string& word) noexcept {
  for (const LeadWord& entry : kLeadWords) {
    if (word == entry.word && word == CrmLeadStatus(entry.status)) return true;
  }
  return false;
}

bool ParseCrmLeadStatus(const std::string& word, LeadStatus* out) noexcept {
  const std::string normalized = Normalize(word);
  for (const LeadWord& entry : kLeadWords) {
    if (normalized == entry.word) {
      *out = entry.status;
      return true;
    }
  }
  return false;
}

const char* CrmPropertyStatus(PropertyStatus status) noexcept {
  switch (status) {
    case PropertyStatus::kActive:
      return "active";
    case PropertyStatus::kInactive:
      return "inactive";
    case PropertyStatus::kSold:
      return "sold";
  }
  return "active";
}

bool IsCrmPropertyStatus(const std::string& word) noexcept {
  for (const PropertyWord& entry : kPropertyWords) {
    if (word == entry.word) return true;
  }
  return false;
}

bool ParseCrmPropertyStatus(const std::string& word, PropertyStatus* out) noexcept {
  const std::string normalized = Normalize(word);
  for (const PropertyWord& entry : kPropertyWords) {
    if (normalized == entry.word) {
      *out = entry.status;
      return true;
    }
  }
  return false;
}

}  // namespace crmsync::mockcrm
