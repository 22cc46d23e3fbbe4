// pagination.h: reading a CRM's paged answers (mapping-format.md, "Pagination"):
// the `paging` key of a lookup or of users.list, and the walk over the pages.
//
// Four ways a CRM says where the next page is:
//  * cursor: the answer holds the next cursor at `cursorPointer`; it is sent
//    back as the query parameter `cursorParam`; no cursor (absent, null, "")
//    is the last page.
//  * page: page numbers in the query parameter `pageParam`, from `firstPage`
//    (default 1); the last page is an empty one, a short one (fewer items than
//    `pageSize`), or one whose `hasMorePointer` is false.
//  * link: the HTTP Link header's rel="next" target (RFC 8288); no such link is
//    the last page. A target on another host (or scheme, or port) is refused:
//    credentials go only to the configured CRM.
//  * nextPath: the answer holds the next page's path (or URL) at `nextPointer`
//    (Salesforce's /nextRecordsUrl); none (absent, null, "") is the last page.
//    It is checked as a Link target is: on crm.api.url's origin and under its
//    path, or refused.
// At most `maxPages` pages are read (default 100); a walk that would need more
// fails with a reason naming the bound.
//
// WalkPages() is the walk itself over any Transport. PagingTransport wraps the
// plugin's transport so that the engine's single lookup request becomes a walk
// when the mapping's lookup is paged: it stops at the first page holding a
// match and answers with that page, so ReadLookup() reads it as usual; a page
// that fails (an error status, an answer that does not fit) is answered as it
// came, so the lookup is "unknown", never "not found"; the bound is answered
// with the header kPagingErrorHeader, which ReadLookupAnswer() reads as unknown.
//
// Thread-safety: WalkPages() is a pure function of its arguments; a
// PagingTransport holds only the immutable mapping and a thread-safe inner
// transport.
#ifndef CRMSYNC_PLUGINS_GENERIC_REST_CRM_PAGINATION_H_
#define CRMSYNC_PLUGINS_GENERIC_REST_CRM_PAGINATION_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "crmsync/adapter.h"
#include "crmsync/prepare.h"
#include "json_util.h"
#include "template.h"

namespace crmsync::genericrest {

/// The `paging` key of an operation.
struct Paging {
  enum class Type { kCursor, kPage, kLink, kNextPath };
  Type type = Type::kCursor;
  std::string cursor_pointer;  ///< cursor: where the answer holds the next cursor.
  std::string cursor_param;    ///< cursor: the query parameter that sends it.
  std::string page_param;      ///< page: the query parameter of the page number.
  long long first_page = 1;    ///< page: the number of the first page.
  std::optional<long long> page_size;  ///< page: a shorter page is the last.
  std::optional<std::string> has_more_pointer;  ///< page: false there ends the walk.
  std::string next_pointer;  ///< nextPath: where the answer holds the next page's path.
  int max_pages = 100;  ///< Most pages read (1 to 10000).
};

/// Header of a PagingTransport answer when the walk hit `maxPages`; its value
/// is the reason. Never sent to or received from the CRM.
constexpr char kPagingErrorHeader[] = "X-Crmsync-Paging-Error";

/// Reads `paging` at `pointer`; problems go to *errors as (pointer, reason).
bool ParsePaging(const Var& value, const std::string& pointer, Paging* out, ErrorList* errors);

/// One page as the walk read it.
struct Page {
  int number = 1;  ///< 1 for the first page read.
  HttpResponse response;
  Var body;  ///< The parsed answer (valid when the callback is called).
};

/// What the callback says after each page.
enum class PageVerdict { kNext, kStop };

/// Sends `first`, then each next page, calling `on_page` with every 2xx JSON
/// answer; the callback returns kStop to end the walk (or a non-OK Status to
/// fail it). `results_pointer` is where the page's items are (the page param's
/// short/empty rule counts them). Returns OK when the walk ended (the CRM has
/// no next page, or the callback stopped it); *last is the last page's answer.
/// A transport error or a non-2xx answer ends the walk with kRetryable (and
/// *last holding that answer, for the caller to classify); an answer that is
/// not JSON, or an unusable next link, with kRetryable naming it; more than
/// max_pages pages with kPermanent naming the bound. `base_url` is crm.api.url,
/// which a Link target must be on.
Status WalkPages(Transport& transport, const HttpRequest& first, const Paging& paging,
                 const std::string& results_pointer, const std::string& base_url,
                 const std::function<Status(const Page&, PageVerdict*)>& on_page,
                 HttpResponse* last);

/// Where the page after `page` is, as WalkPages() follows it (also used by
/// the records list, which reads one page per call): *next is the next page's
/// path, or nullopt when `page` was the last. `first_path` is the first
/// request's path (the cursor and page forms set their parameter on it),
/// `path_read` the path `page` was read from, `page_number` its number (page
/// form). kRetryable naming what is wrong when the answer cannot say where the
/// next page is (no items array for the page form, a cursor that is not text,
/// a target off crm.api.url, the page just read again).
Status NextPagePath(const Paging& paging, const std::string& first_path,
                    const std::string& path_read, const Page& page,
                    const std::string& results_pointer, const std::string& base_url,
                    long long page_number, std::optional<std::string>* next);

/// `path` (which may hold a query string) with `name`=`value` set in its query,
/// replacing an earlier value of that parameter.
std::string WithQueryParam(const std::string& path, const std::string& name,
                           const std::string& value);

/// The target of the rel="next" link of a Link header value, or "".
std::string NextLink(const std::string& link_header);

/// The path (and query) to request for a next-page target (a Link header's, a
/// nextPath one, a polled nextRecordsUrl), relative to `base_url` (crm.api.url)
/// as HttpTransport takes it; false with *why, which names the target as
/// `what`, when the target is on another origin or outside base_url's path.
bool LinkPath(const std::string& target, const std::string& base_url, const std::string& what,
              std::string* path, std::string* why);

struct Mapping;

/// The plugin's transport with paged lookups walked (see the file comment).
/// Requests that are not a paged lookup pass through untouched.
class PagingTransport final : public Transport, public PreparingTransport {
 public:
  /// `base_url` is the CRM's base URL (crm.api.url): a Link target must be on
  /// it. `inner` should also be a PreparingTransport for Prepare() to work.
  PagingTransport(std::unique_ptr<Transport> inner, std::shared_ptr<const Mapping> mapping,
                  std::string base_url);

  HttpResponse Send(const HttpRequest& request) override;
  Status Prepare(const HttpRequest& request, WireRequest* out) override;

  /// The inner transport (signing, without the lookup walk), for users.list.
  Transport& inner() { return *inner_; }

 private:
  std::unique_ptr<Transport> inner_;
  std::shared_ptr<const Mapping> mapping_;
  std::string base_url_;
};

/// Header a paged lookup request carries from BuildLookup() to the
/// PagingTransport: the job's externalReference, matched with the lookup's
/// matchPointer. Removed before the request is sent.
constexpr char kLookupReferenceHeader[] = "X-Crmsync-Lookup-Reference";

}  // namespace crmsync::genericrest

#endif  // CRMSYNC_PLUGINS_GENERIC_REST_CRM_PAGINATION_H_
