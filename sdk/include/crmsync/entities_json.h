// crmsync/entities_json.h: the entity decoders of entities.h for callers that
// already hold a parsed Poco JSON object, so a body is parsed once.
//
// Same rules, paths and results as the text overloads. Thread-safe.
#ifndef CRMSYNC_ENTITIES_JSON_H_
#define CRMSYNC_ENTITIES_JSON_H_

#include <string>
#include <vector>

#include <Poco/JSON/Object.h>

#include "crmsync/entities.h"

namespace crmsync {

bool DecodeLead(const Poco::JSON::Object& object, const std::string& path, Lead* out,
                std::vector<FieldError>* errors);
bool DecodeProperty(const Poco::JSON::Object& object, const std::string& path, Property* out,
                    std::vector<FieldError>* errors);
bool DecodeInquiry(const Poco::JSON::Object& object, const std::string& path, Inquiry* out,
                   std::vector<FieldError>* errors);
bool DecodeDealerAssignment(const Poco::JSON::Object& object, const std::string& path,
                            DealerAssignment* out, std::vector<FieldError>* errors);

}  // namespace crmsync

#endif  // CRMSYNC_ENTITIES_JSON_H_
