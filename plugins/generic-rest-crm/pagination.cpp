// Paged answers; see pagination.h.
#include "pagination.h"

#include <algorithm>
#include <cctype>
#include <utility>
#include <vector>

#include <Poco/Exception.h>
#include <Poco/String.h>
#include <Poco/URI.h>

#include "context.h"
#include "crmsync/redact.h"
#include "lookup.h"
#include "mapping_file.h"

namespace crmsync::genericrest {
namespace {

bool IsWhole(const Var& value) { return value.isInteger() && !IsBool(value); }

// The number of items of a page at `results_pointer` (the answer itself when
// ""); nullopt when there is no array there.
std::optional<size_t> ItemCount(const Var& body, const std::string& results_pointer) {
  const std::optional<Var> list = ResolvePointer(body, results_pointer);
  if (!list) return std::nullopt;
  if (IsNull(*list)) return 0;
  if (!IsArray(*list)) return std::nullopt;
  return list->extract<JsonArray>()->size();
}

std::string Lower(const std::string& text) { return Poco::toLower(text); }

std::string Trim(const std::string& text) { return Poco::trim(text); }

}  // namespace

bool LinkPath(const std::string& target, const std::string& base_url, const std::string& what,
              std::string* path, std::string* why) {
  try {
    const Poco::URI base(base_url);
    Poco::URI uri(base, target);  // resolves a relative target against the base
    if (Lower(uri.getScheme()) != Lower(base.getScheme()) ||
        Lower(uri.getHost()) != Lower(base.getHost()) || uri.getPort() != base.getPort()) {
      *why = what + " is on another origin (" + uri.getScheme() + "://" +
             uri.getHost() + "); credentials go only to crm.api.url";
      return false;
    }
    std::string prefix = base.getPath();
    while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
    std::string full = uri.getPathEtc();
    if (!prefix.empty()) {
      const bool inside = full.compare(0, prefix.size(), prefix) == 0 &&
                          (full.size() == prefix.size() || full[prefix.size()] == '/' ||
                           full[prefix.size()] == '?');
      if (!inside) {
        *why = what + " is outside crm.api.url's path " + prefix;
        return false;
      }
      full = full.substr(prefix.size());
    }
    if (full.empty() || full[0] != '/') full = "/" + full;
    *path = full;
    return true;
  } catch (const Poco::Exception&) {
    *why = what + " is not a URL";
    return false;
  }
}

bool ParsePaging(const Var& value, const std::string& pointer, Paging* out, ErrorList* errors) {
  const size_t before = errors->size();
  auto error = [&](const std::string& key, const std::string& reason) {
    errors->emplace_back(key.empty() ? pointer : PointerJoin(pointer, key), reason);
  };
  if (!IsObject(value)) {
    error("", "must be an object: {\"type\": \"cursor\" | \"page\" | \"link\" | \"nextPath\", ...}");
    return false;
  }
  JsonObject object = value.extract<JsonObject>();
  std::string type;
  if (!object->has("type") || !IsString(object->get("type"))) {
    error("type", "required: cursor, page, link or nextPath");
    return false;
  }
  type = object->get("type").extract<std::string>();
  std::vector<std::string> allowed = {"type", "maxPages"};
  if (type == "cursor") {
    out->type = Paging::Type::kCursor;
    allowed.insert(allowed.end(), {"cursorPointer", "cursorParam"});
  } else if (type == "page") {
    out->type = Paging::Type::kPage;
    allowed.insert(allowed.end(),
                   {"pageParam", "firstPage", "pageSize", "hasMorePointer"});
  } else if (type == "link") {
    out->type = Paging::Type::kLink;
  } else if (type == "nextPath") {
    out->type = Paging::Type::kNextPath;
    allowed.push_back("nextPointer");
  } else {
    error("type", "must be cursor, page, link or nextPath");
    return false;
  }
  for (const std::string& key : object->getNames()) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      std::string list;
      for (const std::string& name : allowed) list += (list.empty() ? "" : " ") + name;
      error(key, "unknown key for " + type + " paging (expected one of " + list + ")");
    }
  }
  auto text = [&](const std::string& key, bool pointer_value, std::string* into) {
    if (!object->has(key)) {
      error(key, "required for " + type + " paging");
      return;
    }
    const Var member = object->get(key);
    if (!IsString(member) || member.extract<std::string>().empty()) {
      error(key, "must be a non-empty string");
      return;
    }
    *into = member.extract<std::string>();
    if (pointer_value && !IsValidPointer(*into)) {
      error(key, "must be a JSON pointer (\"/paging/next/after\")");
    }
  };
  if (out->type == Paging::Type::kCursor) {
    text("cursorPointer", true, &out->cursor_pointer);
    text("cursorParam", false, &out->cursor_param);
  } else if (out->type == Paging::Type::kNextPath) {
    text("nextPointer", true, &out->next_pointer);
  } else if (out->type == Paging::Type::kPage) {
    text("pageParam", false, &out->page_param);
    // firstPage from 0, pageSize (the CRM's full page) from 1.
    for (const auto& [key, least] : {std::pair<std::string, long long>{"firstPage", 0},
                                     std::pair<std::string, long long>{"pageSize", 1}}) {
      if (!object->has(key)) continue;
      const Var number = object->get(key);
      if (!IsWhole(number) || number.convert<long long>() < least) {
        error(key, "must be a whole number, " + std::to_string(least) + " or more");
      } else if (key == "firstPage") {
        out->first_page = number.convert<long long>();
      } else {
        out->page_size = number.convert<long long>();
      }
    }
    if (object->has("hasMorePointer")) {
      std::string more;
      text("hasMorePointer", true, &more);
      out->has_more_pointer = more;
    }
  }
  if (object->has("maxPages")) {
    const Var max = object->get("maxPages");
    if (!IsWhole(max) || max.convert<long long>() < 1 || max.convert<long long>() > 10000) {
      error("maxPages", "must be a whole number from 1 to 10000");
    } else {
      out->max_pages = static_cast<int>(max.convert<long long>());
    }
  }
  return errors->size() == before;
}

std::string WithQueryParam(const std::string& path, const std::string& name,
                           const std::string& value) {
  Poco::URI uri(path);
  Poco::URI::QueryParameters params = uri.getQueryParameters();
  params.erase(std::remove_if(params.begin(), params.end(),
                              [&](const std::pair<std::string, std::string>& param) {
                                return param.first == name;
                              }),
               params.end());
  params.emplace_back(name, value);
  uri.setQueryParameters(params);
  return uri.getPathEtc();
}

std::string NextLink(const std::string& link_header) {
  // Link: <https://x/items?page=2>; rel="next", <...>; rel="prev"
  size_t pos = 0;
  while (pos < link_header.size()) {
    const size_t open = link_header.find('<', pos);
    if (open == std::string::npos) break;
    const size_t close = link_header.find('>', open);
    if (close == std::string::npos) break;
    const std::string target = link_header.substr(open + 1, close - open - 1);
    const size_t next_link = link_header.find('<', close);
    const std::string params =
        link_header.substr(close + 1, next_link == std::string::npos ? std::string::npos
                                                                     : next_link - close - 1);
    size_t at = 0;
    while (at < params.size()) {
      const size_t semi = params.find(';', at);
      std::string param = Trim(params.substr(at, semi == std::string::npos ? std::string::npos
                                                                           : semi - at));
      at = semi == std::string::npos ? params.size() : semi + 1;
      const size_t eq = param.find('=');
      if (eq == std::string::npos || Lower(Trim(param.substr(0, eq))) != "rel") continue;
      std::string rels = Trim(param.substr(eq + 1));
      while (!rels.empty() && rels.back() == ',') rels = Trim(rels.substr(0, rels.size() - 1));
      if (!rels.empty() && rels.front() == '"') rels = rels.substr(1);
      if (!rels.empty() && rels.back() == '"') rels.pop_back();
      // rel may list several types: rel="next last".
      std::string word;
      for (size_t i = 0; i <= rels.size(); ++i) {
        if (i == rels.size() || std::isspace(static_cast<unsigned char>(rels[i]))) {
          if (Lower(word) == "next") return target;
          word.clear();
        } else {
          word += rels[i];
        }
      }
    }
    if (next_link == std::string::npos) break;
    pos = next_link;
  }
  return "";
}

Status NextPagePath(const Paging& paging, const std::string& first_path,
                    const std::string& path_read, const Page& page,
                    const std::string& results_pointer, const std::string& base_url,
                    long long page_number, std::optional<std::string>* next) {
  next->reset();
  std::string next_path;
  if (paging.type == Paging::Type::kCursor) {
    const std::optional<Var> cursor = ResolvePointer(page.body, paging.cursor_pointer);
    if (!cursor || IsEmptyValue(*cursor)) return Status::Ok();
    if (!IsString(*cursor) && !IsNumber(*cursor)) {
      return Status::Retryable("the next cursor at " + paging.cursor_pointer +
                               " is neither a string nor a number");
    }
    next_path = WithQueryParam(first_path, paging.cursor_param, ValueText(*cursor));
  } else if (paging.type == Paging::Type::kPage) {
    const std::optional<size_t> count = ItemCount(page.body, results_pointer);
    if (!count) {
      return Status::Retryable("no array of items at " +
                               (results_pointer.empty() ? std::string("the top level")
                                                        : results_pointer));
    }
    if (*count == 0) return Status::Ok();
    if (paging.page_size && static_cast<long long>(*count) < *paging.page_size) {
      return Status::Ok();
    }
    if (paging.has_more_pointer) {
      const std::optional<Var> more = ResolvePointer(page.body, *paging.has_more_pointer);
      if (!more || !IsBool(*more)) {
        return Status::Retryable("expected true or false at " + *paging.has_more_pointer);
      }
      if (!more->extract<bool>()) return Status::Ok();
    }
    next_path = WithQueryParam(first_path, paging.page_param, std::to_string(page_number + 1));
  } else if (paging.type == Paging::Type::kNextPath) {
    const std::optional<Var> target = ResolvePointer(page.body, paging.next_pointer);
    if (!target || IsEmptyValue(*target)) return Status::Ok();
    if (!IsString(*target)) {
      return Status::Retryable("the next page at " + paging.next_pointer + " is not a string");
    }
    std::string why;
    if (!LinkPath(target->extract<std::string>(), base_url,
                  "the next page at " + paging.next_pointer, &next_path, &why)) {
      return Status::Retryable(why);
    }
  } else {
    const std::string target = NextLink(page.response.Header("Link"));
    if (target.empty()) return Status::Ok();
    std::string why;
    if (!LinkPath(target, base_url, "the Link header's next page", &next_path, &why)) {
      return Status::Retryable(why);
    }
  }
  if (next_path == path_read) {
    // A cursor or link that points at the page just read would only spend
    // requests on the same page.
    return Status::Retryable("the CRM's next page is the page just read (" +
                             MaskSensitive(next_path) + ")");
  }
  *next = next_path;
  return Status::Ok();
}

Status WalkPages(Transport& transport, const HttpRequest& first, const Paging& paging,
                 const std::string& results_pointer, const std::string& base_url,
                 const std::function<Status(const Page&, PageVerdict*)>& on_page,
                 HttpResponse* last) {
  HttpRequest request = first;
  long long page_number = paging.first_page;
  if (paging.type == Paging::Type::kPage) {
    request.path = WithQueryParam(first.path, paging.page_param, std::to_string(page_number));
  }
  for (int number = 1;; ++number) {
    Page page;
    page.number = number;
    page.response = transport.Send(request);
    *last = page.response;
    const std::string where = "page " + std::to_string(number);
    if (page.response.error != TransportError::kNone) {
      return Status::Retryable(where + ": " + TransportErrorName(page.response.error) +
                               (page.response.error_message.empty()
                                    ? std::string()
                                    : ": " + page.response.error_message));
    }
    if (page.response.status < 200 || page.response.status > 299) {
      return Status::Retryable(where + ": the CRM answered " +
                               std::to_string(page.response.status));
    }
    std::string error;
    if (!ParseJson(page.response.body, &page.body, &error)) {
      return Status::Retryable(where + ": the CRM's answer is not JSON");
    }
    PageVerdict verdict = PageVerdict::kNext;
    Status status = on_page(page, &verdict);
    if (!status.ok() || verdict == PageVerdict::kStop) return status;
    std::optional<std::string> next_path;
    status = NextPagePath(paging, first.path, request.path, page, results_pointer, base_url,
                          page_number, &next_path);
    if (!status.ok()) return Status(status.code(), where + ": " + status.message());
    if (!next_path) return Status::Ok();
    if (paging.type == Paging::Type::kPage) ++page_number;
    if (number >= paging.max_pages) {
      return Status::Permanent("the CRM has more than paging.maxPages (" +
                               std::to_string(paging.max_pages) +
                               ") pages; raise maxPages, or narrow the request");
    }
    request.path = *next_path;
  }
}

PagingTransport::PagingTransport(std::unique_ptr<Transport> inner,
                                 std::shared_ptr<const Mapping> mapping, std::string base_url)
    : inner_(std::move(inner)), mapping_(std::move(mapping)), base_url_(std::move(base_url)) {}

namespace {

// The request without the internal reference header; *reference its value.
HttpRequest Stripped(const HttpRequest& request, std::string* reference) {
  HttpRequest out = request;
  out.headers.clear();
  for (const auto& header : request.headers) {
    if (Lower(header.first) == Lower(kLookupReferenceHeader)) {
      if (reference != nullptr) *reference = header.second;
    } else {
      out.headers.push_back(header);
    }
  }
  return out;
}

}  // namespace

HttpResponse PagingTransport::Send(const HttpRequest& request) {
  std::string reference;
  const HttpRequest plain = Stripped(request, &reference);
  const Operation* op = nullptr;
  for (EntityKind kind : {EntityKind::kLead, EntityKind::kProperty}) {
    const EntityMapping* entity = mapping_->Entity(kind);
    if (entity != nullptr && plain.route == std::string(EntityKindName(kind)) + ".lookup") {
      op = entity->Find("lookup");
    }
  }
  if (op == nullptr || !op->paging) return inner_->Send(plain);
  HttpResponse last;
  int pages_read = 0;
  const Status walked = WalkPages(
      *inner_, plain, *op->paging, op->results_pointer.value_or(""), base_url_,
      [&](const Page& page, PageVerdict* verdict) {
        ++pages_read;
        std::optional<std::string> id;
        // A page that does not fit stops the walk: ReadLookup() reads it again
        // and says why (unknown, never "not found").
        const Status read = ReadLookupAnswer(*op, page.response, &id, &reference);
        *verdict = !read.ok() || id ? PageVerdict::kStop : PageVerdict::kNext;
        return Status::Ok();
      },
      &last);
  if (walked.code() == StatusCode::kPermanent) {
    // Only the bound: the last page read as "not found", which it is not.
    last.headers.emplace_back(kPagingErrorHeader, walked.message());
  } else if (!walked.ok() && last.error == TransportError::kNone &&
             ((last.status >= 200 && last.status <= 299) || pages_read > 0)) {
    // A 2xx page whose next page cannot be reached, or a later page that
    // failed (a 404 to an expired cursor included): not "not found" either.
    // Only a first page's own 404 says there is no such record.
    last.headers.emplace_back(kPagingErrorHeader, walked.message());
  }
  return last;
}

Status PagingTransport::Prepare(const HttpRequest& request, WireRequest* out) {
  PreparingTransport* inner = AsPreparing(inner_.get());
  if (inner == nullptr) return Status::Permanent("the inner transport cannot prepare requests");
  return inner->Prepare(Stripped(request, nullptr), out);
}

}  // namespace crmsync::genericrest
