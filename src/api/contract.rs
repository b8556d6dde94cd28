//! The exact contract (issue 15): what the generated OpenAPI document promises beyond each
//! handler's own annotations, derived from the operations the router collected, and the answer
//! to a known path with a method it does not serve.
//!
//! * [`complete`] adds to every operation the statuses its shape implies, all with the error
//!   body `{"error":{"code","message"}}`: a secured operation may answer 401 (with
//!   `WWW-Authenticate`), 403, 429 (with `Retry-After`) and 503 (with `Retry-After`: the
//!   database is down); path parameters bring 400 (malformed) and 404 (unknown); query or
//!   header parameters 400; a request body 400, 413 and 415. A handler's own entry for a
//!   status (with its specific codes) is kept. It also adds response `links` from each
//!   creating operation to the operations on what it created ([`LINKS`]).
//! * [`method_not_allowed`] is the router's fallback: a path the API serves, asked with a
//!   method it does not serve, is a 405 with `Allow` listing the methods it does serve (the
//!   document's for API paths, [`super::status::ROUTES`] and the docs for the others); any
//!   other path is a 404.

use std::collections::BTreeSet;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use utoipa::openapi::header::Header;
use utoipa::openapi::link::Link;
use utoipa::openapi::path::{HttpMethod, Operation, ParameterIn, PathItem};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::{OpenApi, RefOr, Response};

use super::error::ErrorBody;
use super::ApiError;

/// A creating operation's response, and the operations on the item it creates.
struct CreatesLink {
    /// The creating operation's id.
    operation: &'static str,
    /// Its success status.
    status: &'static str,
    /// The response body field holding the new item's id.
    field: &'static str,
    /// The item's path: every operation at it or below it uses the id.
    item_path: &'static str,
    /// The path parameter the id fills.
    parameter: &'static str,
}

/// Every creating operation and what it links to.
const LINKS: &[CreatesLink] = &[
    CreatesLink {
        operation: "create_account",
        status: "201",
        field: "session_id",
        item_path: "/v1/accounts/{session_id}",
        parameter: "session_id",
    },
    CreatesLink {
        operation: "create_webhook",
        status: "201",
        field: "id",
        item_path: "/v1/webhooks/{id}",
        parameter: "id",
    },
    CreatesLink {
        operation: "create_key",
        status: "201",
        field: "id",
        item_path: "/v1/api-keys/{id}",
        parameter: "id",
    },
    CreatesLink {
        operation: "create_group",
        status: "201",
        field: "id",
        item_path: "/v1/accounts/{session_id}/groups/{group_id}",
        parameter: "group_id",
    },
    CreatesLink {
        operation: "send_message",
        status: "202",
        field: "id",
        item_path: "/v1/accounts/{session_id}/messages/{id}",
        parameter: "id",
    },
];

/// The HTTP methods an OpenAPI path item can hold, with their names.
const METHODS: [(HttpMethod, &str); 8] = [
    (HttpMethod::Get, "GET"),
    (HttpMethod::Put, "PUT"),
    (HttpMethod::Post, "POST"),
    (HttpMethod::Delete, "DELETE"),
    (HttpMethod::Options, "OPTIONS"),
    (HttpMethod::Head, "HEAD"),
    (HttpMethod::Patch, "PATCH"),
    (HttpMethod::Trace, "TRACE"),
];

fn operation<'a>(item: &'a PathItem, method: &HttpMethod) -> Option<&'a Operation> {
    match method {
        HttpMethod::Get => item.get.as_ref(),
        HttpMethod::Put => item.put.as_ref(),
        HttpMethod::Post => item.post.as_ref(),
        HttpMethod::Delete => item.delete.as_ref(),
        HttpMethod::Options => item.options.as_ref(),
        HttpMethod::Head => item.head.as_ref(),
        HttpMethod::Patch => item.patch.as_ref(),
        HttpMethod::Trace => item.trace.as_ref(),
    }
}

fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.options.as_mut(),
        item.head.as_mut(),
        item.patch.as_mut(),
        item.trace.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// The methods the document declares for `item`, as `Allow` names them.
pub fn declared_methods(item: &PathItem) -> Vec<&'static str> {
    METHODS
        .iter()
        .filter(|(method, _)| operation(item, method).is_some())
        .map(|(_, name)| *name)
        .collect()
}

/// Completes the document the router generated: implied statuses, links, component schemas
/// of the formats.
pub fn complete(doc: &mut OpenApi, max_wait_secs: Option<u64>) {
    for item in doc.paths.paths.values_mut() {
        for op in operations_mut(item) {
            add_implied_responses(op);
        }
    }
    add_links(doc);
    let components = doc.components.get_or_insert_with(Default::default);
    components.schemas.extend(super::formats::schemas());
    super::messages::complete_send_schemas(&mut components.schemas);
    if let Some(max) = max_wait_secs {
        set_query_maximum(doc, "/v1/events", "wait", max);
    }
}

/// States a query parameter's configured maximum (a setting, so not in the annotations).
fn set_query_maximum(doc: &mut OpenApi, path: &str, name: &str, max: u64) {
    let Some(op) = doc
        .paths
        .paths
        .get_mut(path)
        .and_then(|item| item.get.as_mut())
    else {
        return;
    };
    for param in op.parameters.iter_mut().flatten() {
        if param.name == name && param.parameter_in == ParameterIn::Query {
            if let Some(RefOr::T(Schema::Object(object))) = param.schema.as_mut() {
                object.maximum = Some(utoipa::Number::UInt(
                    usize::try_from(max).unwrap_or(usize::MAX),
                ));
            }
        }
    }
}

/// The document as served. utoipa 5 writes a link's fields in snake case (`operation_id`);
/// OpenAPI spells them `operationId`, `operationRef` and `requestBody`, so they are renamed
/// here, in the one place the document becomes JSON.
pub fn to_json(doc: &OpenApi) -> serde_json::Value {
    let mut json = serde_json::to_value(doc).unwrap_or_default();
    if let Some(paths) = json.get_mut("paths").and_then(|p| p.as_object_mut()) {
        let responses = paths
            .values_mut()
            .filter_map(|item| item.as_object_mut())
            .flat_map(|item| item.values_mut())
            .filter_map(|op| op.get_mut("responses")?.as_object_mut())
            .flat_map(|responses| responses.values_mut());
        for response in responses {
            let links = response.get_mut("links").and_then(|l| l.as_object_mut());
            for link in links.into_iter().flat_map(|l| l.values_mut()) {
                let Some(link) = link.as_object_mut() else {
                    continue;
                };
                for (snake, camel) in [
                    ("operation_id", "operationId"),
                    ("operation_ref", "operationRef"),
                    ("request_body", "requestBody"),
                ] {
                    if let Some(value) = link.remove(snake) {
                        link.insert(camel.to_owned(), value);
                    }
                }
            }
        }
    }
    json
}

/// The statuses an operation's shape implies, in status order.
pub fn implied_statuses(op: &Operation) -> BTreeSet<u16> {
    let mut statuses = BTreeSet::new();
    let params = op.parameters.as_deref().unwrap_or_default();
    if op.security.as_ref().is_some_and(|s| !s.is_empty()) {
        statuses.extend([401, 403, 429, 503]);
    }
    if params.iter().any(|p| p.parameter_in == ParameterIn::Path) {
        statuses.extend([400, 404]);
    }
    if params.iter().any(|p| p.parameter_in != ParameterIn::Path) {
        statuses.insert(400);
    }
    if op.request_body.is_some() {
        statuses.extend([400, 413, 415]);
    }
    statuses
}

fn add_implied_responses(op: &mut Operation) {
    for status in implied_statuses(op) {
        let key = status.to_string();
        let mut response = match op.responses.responses.remove(&key) {
            Some(RefOr::T(response)) => response,
            Some(reference) => {
                op.responses.responses.insert(key, reference);
                continue;
            }
            None => error_response(default_description(status)),
        };
        if response.content.is_empty() {
            let described = error_response(&response.description);
            response.content = described.content;
        }
        match status {
            401 => {
                response
                    .headers
                    .entry("WWW-Authenticate".into())
                    .or_insert_with(|| text_header("`Bearer`"));
            }
            429 | 503 => {
                response
                    .headers
                    .entry("Retry-After".into())
                    .or_insert_with(seconds_header);
            }
            _ => {}
        }
        op.responses.responses.insert(key, RefOr::T(response));
    }
}

fn default_description(status: u16) -> &'static str {
    match status {
        400 => "`invalid_…`: a parameter or the body does not match its schema or rules",
        401 => "`unauthorized`: no, malformed or unknown bearer key",
        403 => "`forbidden`: the key does not grant this",
        404 => "`not_found`: no such item",
        413 => "`payload_too_large`: the body is over the size limit",
        415 => "`unsupported_media_type`: the body is not `application/json`",
        429 => "`rate_limited`: over the configured rate; retry after `Retry-After` seconds",
        503 => "`unavailable`: the database is unavailable; retry after `Retry-After` seconds",
        _ => "error",
    }
}

fn error_response(description: &str) -> Response {
    utoipa::openapi::ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            utoipa::openapi::content::ContentBuilder::new()
                .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                    <ErrorBody as utoipa::ToSchema>::name(),
                ))))
                .build(),
        )
        .build()
}

fn text_header(description: &str) -> Header {
    let mut header = Header::new(ObjectBuilder::new().schema_type(Type::String));
    header.description = Some(description.to_owned());
    header
}

fn seconds_header() -> Header {
    let mut header = Header::new(
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(0)),
    );
    header.description = Some("Whole seconds to wait before retrying".to_owned());
    header
}

/// The path parameters of a path template, in order.
fn path_parameters(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        .collect()
}

fn add_links(doc: &mut OpenApi) {
    // Which operations sit at or below each creating link's item path.
    let mut targets: Vec<(usize, String, Vec<String>)> = Vec::new();
    for (index, link) in LINKS.iter().enumerate() {
        for (path, item) in &doc.paths.paths {
            let below = path == link.item_path
                || path
                    .strip_prefix(link.item_path)
                    .is_some_and(|rest| rest.starts_with('/'));
            if !below {
                continue;
            }
            for (method, _) in &METHODS {
                if let Some(id) = operation(item, method).and_then(|o| o.operation_id.clone()) {
                    let params = path_parameters(path)
                        .into_iter()
                        .map(str::to_owned)
                        .collect();
                    targets.push((index, id, params));
                }
            }
        }
    }
    for item in doc.paths.paths.values_mut() {
        for op in operations_mut(item) {
            let Some(index) = LINKS
                .iter()
                .position(|l| op.operation_id.as_deref() == Some(l.operation))
            else {
                continue;
            };
            let link = &LINKS[index];
            let own: Vec<String> = op
                .parameters
                .iter()
                .flatten()
                .filter(|p| p.parameter_in == ParameterIn::Path)
                .map(|p| p.name.clone())
                .collect();
            let Some(RefOr::T(response)) = op.responses.responses.get_mut(link.status) else {
                continue;
            };
            for (_, target, params) in targets.iter().filter(|(i, _, _)| *i == index) {
                let mut built = Link::builder().operation_id(target.clone());
                for param in params {
                    let value = if param == link.parameter {
                        format!("$response.body#/{}", link.field)
                    } else if own.contains(param) {
                        format!("$request.path.{param}")
                    } else {
                        continue;
                    };
                    built = built.parameter(param.clone(), value);
                }
                response
                    .links
                    .insert(target.clone(), RefOr::T(built.build()));
            }
        }
    }
}

/// The paths the API serves outside the document, with their methods: the status page's
/// routes and the document itself (the Swagger UI under `/docs/` is matched by prefix).
fn undocumented_route(path: &str) -> Option<Vec<&'static str>> {
    if path == "/docs" || path.starts_with("/docs/") || path == "/openapi.json" {
        return Some(vec!["GET"]);
    }
    let methods: Vec<&'static str> = super::status::ROUTES
        .iter()
        .filter(|(p, _)| *p == path)
        .map(|(_, m)| *m)
        .collect();
    (!methods.is_empty()).then_some(methods)
}

/// Whether the request path `path` is an instance of the template `template` (`{name}`
/// matches one non-empty segment).
fn matches_template(template: &str, path: &str) -> bool {
    let mut want = template.split('/');
    let mut have = path.split('/');
    loop {
        match (want.next(), have.next()) {
            (None, None) => return true,
            (Some(w), Some(h)) => {
                let variable = w.starts_with('{') && w.ends_with('}');
                if !(variable && !h.is_empty() || w == h) {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// The methods served at `path`, if the API serves it at all.
pub fn allowed_methods(doc: &OpenApi, path: &str) -> Option<Vec<&'static str>> {
    let mut methods: Vec<&'static str> = doc
        .paths
        .paths
        .iter()
        .filter(|(template, _)| matches_template(template, path))
        .flat_map(|(_, item)| declared_methods(item))
        .collect();
    if methods.is_empty() {
        return undocumented_route(path);
    }
    methods.sort_unstable();
    methods.dedup();
    Some(methods)
}

/// The router's fallback: 405 with `Allow` for a served path, 404 otherwise.
pub(crate) async fn method_not_allowed(
    req: HttpRequest,
    doc: web::Data<OpenApi>,
) -> Result<HttpResponse, ApiError> {
    match allowed_methods(&doc, req.path()) {
        Some(methods) => {
            let error = ApiError::MethodNotAllowed(req.method().to_string());
            let mut response = actix_web::ResponseError::error_response(&error);
            let allow = methods.join(", ");
            if let Ok(value) = header::HeaderValue::from_str(&allow) {
                response.headers_mut().insert(header::ALLOW, value);
            }
            Ok(response)
        }
        None => Err(ApiError::NotFound("route")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_match_one_segment_per_variable() {
        assert!(matches_template("/v1/webhooks/{id}", "/v1/webhooks/wh_1"));
        assert!(!matches_template("/v1/webhooks/{id}", "/v1/webhooks/"));
        assert!(!matches_template("/v1/webhooks/{id}", "/v1/webhooks/a/b"));
        assert!(!matches_template("/v1/webhooks/{id}", "/v1/webhooks"));
        assert!(matches_template("/healthz", "/healthz"));
        assert!(!matches_template("/healthz", "/healthz/x"));
    }

    #[test]
    fn path_parameters_in_order() {
        assert_eq!(
            path_parameters("/v1/accounts/{session_id}/groups/{group_id}"),
            vec!["session_id", "group_id"]
        );
    }
}
