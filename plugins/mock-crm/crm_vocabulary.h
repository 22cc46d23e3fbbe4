// crm_vocabulary.h: the reference CRM's status words and their platform
// counterparts, both directions.
//
// Outbound, each platform status has exactly one CRM word (CONVERTED -> "won").
// Inbound, several CRM words may name one platform status ("won", "closed_won"
// and "converted" all read as CONVERTED). Pure functions; thread-safe.
#ifndef CRMSYNC_PLUGINS_MOCK_CRM_CRM_VOCABULARY_H_
#define CRMSYNC_PLUGINS_MOCK_CRM_CRM_VOCABULARY_H_

#include <string>

#include "crmsync/entities.h"

namespace crmsync::mockcrm {

/// The CRM's word for a lead status: "new", "contacted", "qualified",
/// "viewing_scheduled", "viewed", "negotiating", "won", "lost".
const char* CrmLeadStatus(LeadStatus status) noexcept;

/// True when `word` is one of the words CrmLeadStatus() produces (exact match):
/// the only lead statuses the CRM itself accepts.
bool IsCrmLeadStatus(const std::string& word) noexcept;

/// Reads a lead status the CRM reports. Case-insensitive, '-' or ' ' read as '_';
/// accepts the CRM's words, the synonyms closed_won/converted (CONVERTED),
/// closed_lost (LOST), and the platform's own names. False when unknown.
bool ParseCrmLeadStatus(const std::string& word, LeadStatus* out) noexcept;

/// The CRM's word for a property status: "active", "inactive", "sold".
const char* CrmPropertyStatus(PropertyStatus status) noexcept;

/// True when `word` is one of the words CrmPropertyStatus() produces.
bool IsCrmPropertyStatus(const std::string& word) noexcept;

/// Reads a property status the CRM reports (case-insensitive). False when unknown.
bool ParseCrmPropertyStatus(const std::string& word, PropertyStatus* out) noexcept;

}  // namespace crmsync::mockcrm

#endif  // CRMSYNC_PLUGINS_MOCK_CRM_CRM_VOCABULARY_H_
