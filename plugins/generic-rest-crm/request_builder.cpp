// Rendering one mapping operation into a request; see request_builder.h.
#include "request_builder.h"

#include <optional>

namespace crmsync::genericrest {

Status RenderRequestLine(const Operation& op, const Context& context, const TransformTables& tables,
                         const std::string& route, HttpRequest* out) {
  HttpRequest request;
  request.method = op.method;
  request.route = route;
  Status status = RenderPath(op.path, context, &request.path);
  if (!status.ok()) return Status(status.code(), route + ": " + status.message());
  std::string query;
  for (const auto& param : op.query) {
    std::optional<std::string> value;
    status = RenderValueText(param.second, context, tables, &value);
    if (!status.ok()) return status;
    if (!value) continue;
    query += (query.empty() ? "" : "&") + UrlEncode(param.first) + "=" + UrlEncode(*value);
  }
  if (!query.empty()) {
    request.path += (request.path.find('?') == std::string::npos ? "?" : "&") + query;
  }
  for (const auto& header : op.headers) {
    std::optional<std::string> value;
    status = RenderValueText(header.second, context, tables, &value);
    if (!status.ok()) return status;
    if (value && !value->empty()) request.headers.emplace_back(header.first, *value);
  }
  *out = request;
  return Status::Ok();
}

Status RenderRequest(const Operation& op, const Context& context, const TransformTables& tables,
                     const std::string& route, HttpRequest* out) {
  HttpRequest request;
  Status status = RenderRequestLine(op, context, tables, route, &request);
  if (!status.ok()) return status;
  if (op.body) {
    std::optional<Var> body;
    status = RenderJson(*op.body, context, tables, &body);
    if (!status.ok()) return status;
    if (body) {
      SetJsonBody(*body, &request);
    } else {
      SetJsonBody(IsArray(*op.body) ? Var(NewArray()) : Var(NewObject()), &request);
    }
  }
  *out = request;
  return Status::Ok();
}

void SetJsonBody(const Var& body, HttpRequest* out) {
  out->body = ToJson(body);
  out->content_type = "application/json";
}

}  // namespace crmsync::genericrest
