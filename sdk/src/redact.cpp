// Masking of personal data and secrets in free text; see crmsync/redact.h.
//
// Four linear passes, each a small hand-written scanner over the output of the
// one before: credentials (so "password=a@b.c" is a secret, not an e-mail),
// e-mail addresses, tokens (JWTs and opaque strings), phone numbers. The
// placeholders hold no '@', digit or key shape, so later passes (and a second
// MaskSensitive()) leave them alone. No std::regex: libstdc++'s is slow and
// recursive, and CRM bodies can be several KB.
#include "crmsync/redact.h"

#include <cstddef>
#include <string>

namespace crmsync {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool IsLower(char c) { return c >= 'a' && c <= 'z'; }
bool IsAlpha(char c) { return IsUpper(c) || IsLower(c); }
bool IsAlnum(char c) { return IsAlpha(c) || IsDigit(c); }
bool IsHigh(char c) { return static_cast<unsigned char>(c) >= 0x80; }
char Lower(char c) { return IsUpper(c) ? static_cast<char>(c - 'A' + 'a') : c; }

bool EndsWith(const std::string& s, const char* suffix) {
  const std::string tail(suffix);
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// Rewrites `text` left to right: at each position `step(text, i, &out)` either
// appends its replacement for what starts there and returns where it ended, or
// returns `i`, and that one character is copied as it is.
template <typename Step>
std::string Rewrite(const std::string& text, Step step) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const size_t next = step(text, i, &out);
    if (next > i) {
      i = next;
    } else {
      out += text[i++];
    }
  }
  return out;
}

// --- credentials ---------------------------------------------------------------

// Characters of an identifier that may name a secret ("x-api-key", "client_secret").
bool IsIdentChar(char c) { return IsAlnum(c) || c == '_' || c == '-'; }

// RFC 7235 token68 characters: what follows "Bearer ".
bool IsToken68Char(char c) {
  return IsAlnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' ||
         c == '=';
}

// Whether an identifier (lower case, '-' as '_') names a secret.
bool NamesSecret(const std::string& key) {
  for (const char* exact : {"key", "pwd", "auth", "sig", "authorization", "hapikey"}) {
    if (key == exact) return true;
  }
  for (const char* suffix :
       {"token", "secret", "password", "passwd", "apikey", "api_key", "access_key", "secret_key",
        "private_key", "signature", "credential", "credentials"}) {
    if (EndsWith(key, suffix)) return true;
  }
  return false;
}

// Whether a word after "Bearer " or "token:" is a credential rather than prose
// ("Bearer header", "token: expired"): long enough, and digits or mixed case.
bool LooksLikeCredential(const std::string& text, size_t begin, size_t end) {
  if (end - begin < 8) return false;
  bool digit = false;
  bool lower = false;
  int inner_upper = 0;
  for (size_t i = begin; i < end; ++i) {
    digit |= IsDigit(text[i]);
    lower |= IsLower(text[i]);
    if (i > begin && IsUpper(text[i])) ++inner_upper;
  }
  return digit || (lower && inner_upper > 0) || end - begin >= 20;
}

// Where a credential value starting at `begin` ends. A quoted value runs to its
// closing quote on the same line; a bare one to the next delimiter.
size_t ValueEnd(const std::string& text, size_t begin, char quote) {
  size_t end = begin;
  if (quote != 0) {
    while (end < text.size() && text[end] != quote && text[end] != '\n') ++end;
    return end;
  }
  static const std::string kDelimiters = " \t\r\n\"'&,;<>(){}[]";
  while (end < text.size() && kDelimiters.find(text[end]) == std::string::npos) ++end;
  return end;
}

// At an identifier: the identifier, with the credential after it masked.
size_t MaskCredentialAt(const std::string& text, size_t i, std::string* out) {
  if (!IsIdentChar(text[i]) || (i > 0 && IsIdentChar(text[i - 1]))) return i;
  size_t ident_end = i;
  std::string key;
  while (ident_end < text.size() && IsIdentChar(text[ident_end])) {
    key += text[ident_end] == '-' ? '_' : Lower(text[ident_end]);
    ++ident_end;
  }
  out->append(text, i, ident_end - i);

  // "Bearer <credential>": an HTTP authorization scheme and its credential.
  if (key == "bearer" || key == "basic" || key == "token") {
    size_t p = ident_end;
    while (p < text.size() && text[p] == ' ') ++p;
    size_t end = p;
    while (end < text.size() && IsToken68Char(text[end])) ++end;
    if (p > ident_end && LooksLikeCredential(text, p, end)) {
      out->append(text, ident_end, p - ident_end);
      *out += kMaskedToken;
      return end;
    }
  }

  // "<secret key>=<value>", "<secret key>: <value>", "\"<secret key>\":\"<value>\"".
  if (!NamesSecret(key)) return ident_end;
  size_t p = ident_end;
  if (p < text.size() && (text[p] == '"' || text[p] == '\'')) ++p;
  while (p < text.size() && text[p] == ' ') ++p;
  if (p >= text.size() || (text[p] != '=' && text[p] != ':')) return ident_end;
  const char separator = text[p++];
  while (p < text.size() && text[p] == ' ') ++p;
  char quote = 0;
  if (p < text.size() && (text[p] == '"' || text[p] == '\'')) quote = text[p++];
  const size_t end = ValueEnd(text, p, quote);
  if (end == p) return ident_end;
  // "Authorization=Bearer <credential>": leave the scheme word, so the scheme
  // rule masks the credential after it when the scan gets there.
  if (quote == 0) {
    std::string word;
    for (size_t k = p; k < end; ++k) word += Lower(text[k]);
    if (word == "bearer" || word == "basic" || word == "token") return ident_end;
  }
  // After ':' the value may be prose ("password: required field not found").
  if (separator == ':' && quote == 0 && !LooksLikeCredential(text, p, end)) return ident_end;
  out->append(text, ident_end, p - ident_end);
  *out += kMaskedToken;
  return end;
}

// --- e-mail addresses ----------------------------------------------------------

bool IsLocalChar(char c) {
  return IsAlnum(c) || IsHigh(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}
bool IsDomainChar(char c) { return IsAlnum(c) || IsHigh(c) || c == '.' || c == '-'; }

std::string MaskEmails(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  size_t local_length = 0;  // trailing bytes of `out` that could be a local part
  size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    // '@', or "%40" in a URL-encoded query ("?email=asha%40example.com").
    const size_t at_length = c == '@' ? 1 : text.compare(i, 3, "%40") == 0 ? 3 : 0;
    if (at_length > 0 && local_length > 0) {
      const size_t domain = i + at_length;
      size_t end = domain;
      while (end < text.size() && IsDomainChar(text[end])) ++end;
      // A sentence's full stop or a dash after the address is not the domain's.
      while (end > domain && (text[end - 1] == '.' || text[end - 1] == '-')) --end;
      if (end > domain && (IsAlnum(text[domain]) || IsHigh(text[domain]))) {
        out.resize(out.size() - local_length);
        out += kMaskedEmail;
        local_length = 0;
        i = end;
        continue;
      }
    }
    out += c;
    local_length = IsLocalChar(c) ? local_length + 1 : 0;
    ++i;
  }
  return out;
}

// --- tokens ----------------------------------------------------------------------

bool IsTokenChar(char c) {
  return IsAlnum(c) || c == '_' || c == '-' || c == '+' || c == '=' || c == '~' || c == '.';
}
bool IsBase64UrlChar(char c) { return IsAlnum(c) || c == '_' || c == '-'; }

// 8-4-4-4-12 hex digits: a correlation or record id, not a secret.
bool IsUuid(const std::string& text, size_t begin, size_t end) {
  if (end - begin != 36) return false;
  for (size_t k = 0; k < 36; ++k) {
    const char c = text[begin + k];
    const bool dash = k == 8 || k == 13 || k == 18 || k == 23;
    if (dash ? c != '-' : !(IsDigit(c) || (Lower(c) >= 'a' && Lower(c) <= 'f'))) return false;
  }
  return true;
}

// A header.payload.signature JWT: "eyJ" opens the base64url of '{"'.
bool IsJwt(const std::string& text, size_t begin, size_t end) {
  if (end - begin < 12 || text.compare(begin, 3, "eyJ") != 0) return false;
  int dots = 0;
  size_t part_begin = begin;
  for (size_t k = begin; k < end; ++k) {
    if (text[k] == '.') {
      if (k == part_begin && dots < 2) return false;  // empty header or payload
      ++dots;
      part_begin = k + 1;
    } else if (!IsBase64UrlChar(text[k])) {
      return false;
    }
  }
  return dots == 2;
}

// A long opaque string: 24+ characters with letters and digits, one part of
// which (between '_' and '-') mixes letters and digits over 8+ characters.
// The part rule keeps long identifiers (hs_additional_emails_v2_field) readable.
bool IsOpaque(const std::string& text, size_t begin, size_t end) {
  if (end - begin < 24 || IsUuid(text, begin, end)) return false;
  bool mixed_part = false;
  size_t part_begin = begin;
  bool part_letter = false;
  bool part_digit = false;
  for (size_t k = begin; k <= end; ++k) {
    if (k == end || text[k] == '_' || text[k] == '-') {
      if (k - part_begin >= 8 && part_letter && part_digit) mixed_part = true;
      part_begin = k + 1;
      part_letter = part_digit = false;
      continue;
    }
    part_letter |= IsAlpha(text[k]);
    part_digit |= IsDigit(text[k]);
  }
  return mixed_part;
}

// At a run of token characters: the run, with a JWT or opaque pieces masked.
size_t MaskTokenAt(const std::string& text, size_t i, std::string* out) {
  if (!IsTokenChar(text[i]) || (i > 0 && IsTokenChar(text[i - 1]))) return i;
  size_t end = i;
  while (end < text.size() && IsTokenChar(text[end])) ++end;
  if (IsJwt(text, i, end)) {
    *out += kMaskedToken;
    return end;
  }
  // Dots split a run into pieces judged one by one, so host names and
  // sentences stay as they are while a token inside them is masked.
  while (i < end) {
    size_t piece_end = i;
    while (piece_end < end && text[piece_end] != '.') ++piece_end;
    if (IsOpaque(text, i, piece_end)) {
      *out += kMaskedToken;
    } else {
      out->append(text, i, piece_end - i);
    }
    i = piece_end;
    if (i < end) *out += text[i++];  // the dot
  }
  return end;
}

// --- phone numbers -----------------------------------------------------------------

constexpr int kMinPhoneDigits = 10;
constexpr int kMaxPhoneDigits = 15;

// YYYY-MM-DD at `i`, not followed by a digit: a date, never a phone.
bool IsDateAt(const std::string& text, size_t i) {
  static const char kShape[] = "dddd-dd-dd";
  for (size_t k = 0; k < 10; ++k) {
    if (i + k >= text.size()) return false;
    const char c = text[i + k];
    if (kShape[k] == 'd' ? !IsDigit(c) : c != '-') return false;
  }
  return i + 10 >= text.size() || !IsDigit(text[i + 10]);
}

// Whether a phone number may start at `i`: not inside a word, path, number or
// id ("crm_5550102233", "/leads/5550102233", "v1.5550102233").
bool PhoneMayStartAt(const std::string& text, size_t i) {
  const char c = text[i];
  if (!IsDigit(c) && c != '+' && c != '(') return false;
  if (i == 0) return true;
  // A URL-encoded '+' ("?phone=%2B919876543210").
  if (i >= 3 && (text.compare(i - 3, 3, "%2B") == 0 || text.compare(i - 3, 3, "%2b") == 0)) {
    return true;
  }
  const char before = text[i - 1];
  return !(IsAlnum(before) || before == '_' || before == '.' || before == '/' || before == '-' ||
           before == '+');
}

// The end of a phone number starting at `i`, or 0 when there is none.
size_t PhoneEnd(const std::string& text, size_t i) {
  size_t p = i;
  const bool plus = text[p] == '+';
  if (plus) ++p;
  int digits = 0;
  int groups = 0;
  int longest_group = 0;
  int last_group = 0;
  bool short_inner_group = false;  // a 1-digit group after the first
  bool dotted = false;
  size_t end = 0;
  while (p < text.size()) {
    const bool paren = text[p] == '(';
    if (paren) ++p;
    size_t group_end = p;
    while (group_end < text.size() && IsDigit(text[group_end])) ++group_end;
    const int length = static_cast<int>(group_end - p);
    if (length == 0) break;
    if (paren) {
      if (group_end >= text.size() || text[group_end] != ')') break;
      ++group_end;
    }
    digits += length;
    if (digits > kMaxPhoneDigits) return 0;  // an id or a list of numbers; also bounds the work
    if (groups > 0 && length == 1) short_inner_group = true;
    ++groups;
    longest_group = length > longest_group ? length : longest_group;
    last_group = length;
    end = group_end;
    p = group_end;
    // One separator, then the next group.
    if (p + 1 < text.size() && (text[p] == ' ' || text[p] == '-' || text[p] == '.') &&
        (IsDigit(text[p + 1]) || text[p + 1] == '(')) {
      dotted |= text[p] == '.';
      ++p;
      continue;
    }
    break;
  }
  if (groups == 0) return 0;
  // Not a phone when the digits run on into a word, a time ("... 10:15") or a
  // decimal fraction.
  if (end < text.size()) {
    const char after = text[end];
    if (IsAlpha(after) || after == '_' || after == ':') return 0;
    if (after == '.' && end + 1 < text.size() && IsDigit(text[end + 1])) return 0;
  }
  if (groups == 1) {
    const bool e164 = plus && digits >= 8;
    const bool bare = !plus && digits >= kMinPhoneDigits && digits <= 12;
    return e164 || bare ? end : 0;
  }
  if (digits < kMinPhoneDigits || (longest_group < 3 && !plus)) return 0;
  if (short_inner_group && !plus) return 0;
  if (dotted && last_group < 4) return 0;  // 192.168.100.200
  return end;
}

// At a number: a phone becomes kMaskedPhone; a date or any other number is
// copied whole, so no phone is found starting inside it.
size_t MaskPhoneAt(const std::string& text, size_t i, std::string* out) {
  if (!PhoneMayStartAt(text, i)) return i;
  if (IsDateAt(text, i)) {
    out->append(text, i, 10);
    return i + 10;
  }
  const size_t end = PhoneEnd(text, i);
  if (end > i) {
    *out += kMaskedPhone;
    return end;
  }
  size_t number_end = i + 1;
  while (number_end < text.size() && IsDigit(text[number_end])) ++number_end;
  out->append(text, i, number_end - i);
  return number_end;
}

}  // namespace

std::string MaskSensitive(const std::string& text) noexcept {
  try {
    const std::string credentials_masked = Rewrite(text, MaskCredentialAt);
    const std::string emails_masked = MaskEmails(credentials_masked);
    const std::string tokens_masked = Rewrite(emails_masked, MaskTokenAt);
    return Rewrite(tokens_masked, MaskPhoneAt);
  } catch (...) {
    // Only allocation can fail; hiding everything is the safe answer.
    return std::string();
  }
}

std::string MaskSecrets(std::string text, const std::vector<std::string>& secrets) {
  static const size_t kPlaceholder = sizeof(kMaskedToken) - 1;
  for (const std::string& secret : secrets) {
    if (secret.size() < 4) continue;
    for (size_t at = text.find(secret); at != std::string::npos;
         at = text.find(secret, at + kPlaceholder)) {
      text.replace(at, secret.size(), kMaskedToken);
    }
  }
  return text;
}

}  // namespace crmsync
