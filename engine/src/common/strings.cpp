// Small string helpers; see strings.h.
#include "common/strings.h"

#include <cctype>
#include <sstream>

#include <Poco/Base64Decoder.h>
#include <Poco/Base64Encoder.h>
#include <Poco/Exception.h>

namespace crmsync::engine {

std::string Trim(const std::string& text) {
  size_t begin = 0;
  size_t end = text.size();
  while (begin < end && std::isspace(static_cast<unsigned char>(text[begin]))) ++begin;
  while (end > begin && std::isspace(static_cast<unsigned char>(text[end - 1]))) --end;
  return text.substr(begin, end - begin);
}

std::string Base64Encode(const std::string& bytes) {
  std::ostringstream out;
  Poco::Base64Encoder encoder(out);
  encoder.rdbuf()->setLineLength(0);
  encoder << bytes;
  encoder.close();
  return out.str();
}

bool Base64Decode(const std::string& text, std::string* out) {
  if (text.empty() || text.size() % 4 != 0) return false;
  for (char c : text) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || c == '=')) {
      return false;
    }
  }
  try {
    std::istringstream in(text);
    Poco::Base64Decoder decoder(in);
    std::ostringstream decoded;
    decoded << decoder.rdbuf();
    *out = decoded.str();
    return !out->empty();
  } catch (const Poco::Exception&) {
    return false;
  }
}

}  // namespace crmsync::engine
