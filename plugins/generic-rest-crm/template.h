// template.h: rendering and checking the templates of a mapping file
// (mapping-format.md, "Templates").
//
// Three kinds of template:
//  * JSON templates (bodies, batch items, query and header values): a JSON value
//    rendered against a Context. A string that is exactly "{{name}}" becomes the
//    variable's value with its JSON type, and a missing or empty value omits the
//    key; any other string interpolates ("Deal for {{name}}", missing -> "");
//    an object {"$const": v} is v as written; an object with "$from" is a
//    transform spec ($transform, $default, $keepEmpty); other objects render
//    member by member, a key with dots ("location.city") is a nested path, a
//    key beginning "$$" is written with one "$" fewer ("$$se_module"), and
//    an object (or array) whose members were all omitted is omitted itself.
//    Numbers, booleans and null in a template are constants.
//  * Text templates (header values, the HMAC payload): "{{name}}" interpolation.
//  * Path templates: "{name}" (or "{{name}}") replaced by the URL-encoded value.
//
// Check*() validate a template when the mapping file is loaded, so that errors
// (unknown variables, transforms, lookup tables, $-keys) stop the service from
// starting instead of failing jobs. Pure functions; thread-safe.
#ifndef CRMSYNC_PLUGINS_GENERIC_REST_CRM_TEMPLATE_H_
#define CRMSYNC_PLUGINS_GENERIC_REST_CRM_TEMPLATE_H_

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "crmsync/status.h"
#include "json_util.h"
#include "transforms.h"

namespace crmsync::genericrest {

/// Template variables by name ("name", "inquiry.message", "webhook.url"). A
/// variable that is absent is missing.
using Context = std::map<std::string, Var>;

/// Problems found in a mapping file: (JSON pointer of the key, reason).
using ErrorList = std::vector<std::pair<std::string, std::string>>;

/// What a template may refer to, for the Check*() functions.
struct TemplateRules {
  /// True for the variable names this template may use.
  std::function<bool(const std::string&)> known_variable;
  /// The names known_variable accepts, for "did you mean" (may be empty).
  std::vector<std::string> variables;
  /// What its transforms may use.
  TransformRules transforms;
};

/// Renders a JSON template. *out is nullopt when the value is omitted. Fails
/// (kInvalidRecord) only when a transform cannot convert a value.
Status RenderJson(const Var& tmpl, const Context& context, const TransformTables& tables,
                  std::optional<Var>* out);

/// Renders a JSON template used where text is needed (query parameters, header
/// values): nullopt when omitted, else the value's text (array elements joined
/// with ",").
Status RenderValueText(const Var& tmpl, const Context& context, const TransformTables& tables,
                       std::optional<std::string>* out);

/// Interpolates "{{name}}" occurrences; a missing variable renders "".
std::string RenderText(const std::string& tmpl, const Context& context);

/// Marks `name` as a field the platform cleared: a JSON template whose value
/// is that variable alone ("{{name}}", or {"from": "name"} whatever its
/// transforms and default) renders null instead of being left out. Text
/// templates render it empty.
void MarkCleared(Context* context, const std::string& name);
bool IsCleared(const Context& context, const std::string& name);

/// Renders a path template: each "{name}" or "{{name}}" becomes the URL-encoded
/// text of the variable. kPermanent naming the variable when it is missing.
Status RenderPath(const std::string& tmpl, const Context& context, std::string* out);

/// Percent-encodes everything but RFC 3986 unreserved characters.
std::string UrlEncode(const std::string& text);

/// Checks a JSON template at `pointer`, appending every problem to `errors`.
void CheckJsonTemplate(const Var& tmpl, const std::string& pointer, const TemplateRules& rules,
                       ErrorList* errors);
/// Checks a text template ("{{name}}" placeholders).
void CheckTextTemplate(const std::string& tmpl, const std::string& pointer,
                       const TemplateRules& rules, ErrorList* errors);
/// Checks a path template ("{name}" placeholders); it must start with "/".
void CheckPathTemplate(const std::string& tmpl, const std::string& pointer,
                       const TemplateRules& rules, ErrorList* errors);

/// The variable names a text or path template refers to, in order.
std::vector<std::string> TemplateVariables(const std::string& tmpl);

}  // namespace crmsync::genericrest

#endif  // CRMSYNC_PLUGINS_GENERIC_REST_CRM_TEMPLATE_H_
