//! The OpenAPI 3 document of the whole API, generated from the code and served at
//! `GET /openapi.json`.
//!
//! Where it comes from: every handler carries a `#[utoipa::path(...)]` annotation (method, path,
//! parameters, request body, responses), request DTOs and response views derive `ToSchema`, and
//! [`ApiDoc`] lists the handlers. The `domain` crate stays free of dependencies: a view that
//! embeds a domain type documents it through its own fields.
//!
//! What the modifiers add, so that each annotation only says what is particular to its route:
//! - [`ProblemResponses`]: every 4xx/5xx response gets the `application/problem+json` body
//!   ([`Problem`], whose `code` lists every stable [`Code`]), 503, 429 and 409 get `Retry-After`, and
//!   the statuses that a route can give because of what it is are added where missing: every
//!   `/v1` route passes the load shedder and dispatches to an actor or the store (409
//!   `version_conflict`, 500, 503, 504), every JSON body can be malformed, unknown, too large or
//!   of the wrong media type (400, 413, 415, 422), every route that takes a
//!   bearer token can be refused (401).
//! - [`SecuritySchemes`]: the `admin_token` and `shopper_token` bearer schemes.
//!
//! How to document a new route (a test fails the build until it is done):
//! 1. Annotate the handler:
//!    ```text
//!    #[utoipa::path(get, path = "/v1/carts/{id}", tag = "carts",
//!        params(("id" = String, Path, description = "The cart's id (a UUID).")),
//!        responses(
//!            (status = 200, description = "The cart.", body = CartView),
//!            (status = 404, description = "`cart_not_found`: no cart has this id."),
//!        ))]
//!    ```
//!    List the success statuses with their view, and the error statuses particular to the route
//!    with their codes in the description (no body: [`ProblemResponses`] adds it). Admin routes
//!    add `security(("admin_token" = []))`; shopper routes add `security(("shopper_token" = []))`
//!    when the token is required, `security((), ("shopper_token" = []))` when it is optional;
//!    routes that need `Idempotency-Key` add `params(IdempotencyKeyHeader)`.
//! 2. Add the handler to `paths(...)` of [`ApiDoc`].
//! 3. Derive `ToSchema` on its request DTO and response view.

use crate::problem::{Code, PROBLEM_CONTENT_TYPE, PROBLEM_TYPE_BASE};
use crate::{dto, ops, routes, routes_read, views};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use std::borrow::Cow;
use std::sync::OnceLock;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, OpenApi as OpenApiDoc, RefOr, ResponseBuilder, Schema};
use utoipa::{IntoParams, Modify, OpenApi, PartialSchema, ToSchema};

/// The name of the admin bearer scheme, as annotations name it in `security(...)`.
pub const ADMIN_SECURITY: &str = "admin_token";

/// The name of the shopper bearer scheme (a session token from `POST /v1/sessions`).
pub const SHOPPER_SECURITY: &str = "shopper_token";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "commerce",
        description = "An actor-based commerce runtime: catalog, inventory, carts, idempotent \
                       checkout and orders. Errors are `application/problem+json` with a stable \
                       `code`; money is integer minor units with an ISO 4217 currency.",
    ),
    paths(
        routes::accounts::sign_up,
        routes::accounts::log_in,
        routes::accounts::log_out,
        routes::accounts::me,
        routes::products::define,
        routes::products::get,
        routes::inventory::get,
        routes::inventory::restock,
        routes::carts::create,
        routes::carts::get,
        routes::carts::add_item,
        routes::carts::set_quantity,
        routes::carts::remove_item,
        routes::carts::checkout,
        routes::orders::buy_now,
        routes::orders::get,
        routes::orders::cancel,
        routes_read::customer_orders,
        routes_read::customer_notifications,
        routes_read::sku_orders,
        routes::health::healthz,
        routes::health::readyz,
        crate::metrics::render,
        ops::dashboard,
        ops::overview,
        ops::shards,
        ops::actor,
        ops::passivate,
        ops::restart,
        ops::supervision,
        ops::sagas,
        ops::outbox,
        openapi_json,
    ),
    components(schemas(Problem, Code, dto::MoneyDto, views::MoneyView)),
    modifiers(&SecuritySchemes, &ProblemResponses),
    tags(
        (name = "catalog", description = "Products and stock (writes need the admin token)."),
        (name = "carts", description = "Carts and checkout."),
        (name = "orders", description = "Buy-now orders, reading and cancelling orders."),
        (name = "read models", description = "Eventually consistent projections of the events."),
        (name = "probes", description = "Liveness, readiness, metrics and this document."),
        (name = "ops", description = "The operators' API (admin token) and dashboard."),
    )
)]
pub struct ApiDoc;

/// The document, built once: it depends on nothing but the code.
pub fn document() -> &'static OpenApiDoc {
    static DOCUMENT: OnceLock<OpenApiDoc> = OnceLock::new();
    DOCUMENT.get_or_init(ApiDoc::openapi)
}

/// The document as JSON bytes, rendered once.
fn document_json() -> &'static [u8] {
    static JSON: OnceLock<Vec<u8>> = OnceLock::new();
    JSON.get_or_init(|| {
        // Serializing the document's own types into a `Vec` cannot fail: every map key is a
        // string. An empty body would fail the completeness test, not pass silently.
        serde_json::to_vec(document()).unwrap_or_default()
    })
}

/// `GET /openapi.json`.
#[utoipa::path(get, path = "/openapi.json", tag = "probes",
    responses((status = 200, description = "This OpenAPI 3 document.",
        content_type = "application/json", body = Object)))]
pub async fn openapi_json() -> Response {
    let mut response = document_json().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// The `{sku}` path segment of the catalogue, inventory, cart-line and SKU read-model routes.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // Documentation only: the segment is parsed by `dto::parse_sku`.
pub struct SkuPath {
    /// The SKU code: 1 to 64 of `A-Z a-z 0-9 - _ .`.
    #[param(example = "SKU-1", pattern = "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    sku: String,
}

/// The `Idempotency-Key` request header of checkout and buy-now.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // Documentation only: the header is read by `extract::IdempotencyKey`.
pub struct IdempotencyKeyHeader {
    /// Required: 1 to 255 printable ASCII characters. A retry with the same key and body replays
    /// the first answer (`Idempotent-Replayed: true`); the same key with another body is 422
    /// `idempotency_key_reused`.
    #[param(
        rename = "Idempotency-Key",
        min_length = 1,
        max_length = 255,
        pattern = "^[ -~]+$"
    )]
    idempotency_key: String,
}

/// The problem body, for documentation: [`crate::ApiError::body`] writes it.
pub struct Problem;

impl PartialSchema for Problem {
    fn schema() -> RefOr<Schema> {
        let string = |description: &str| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some(description))
        };
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "An RFC 9457 problem. Clients branch on `code`; `detail` is for humans. Some \
                 problems carry extension members (`sku`, `max`, `field`, `order`...).",
            ))
            .property(
                "type",
                string(&format!("`{PROBLEM_TYPE_BASE}<code>`."))
                    .format(Some(SchemaFormat::Custom("uri".to_owned()))),
            )
            .property("title", string("The code's fixed title."))
            .property(
                "status",
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(400))
                    .maximum(Some(599)),
            )
            .property("detail", string("What went wrong, for humans."))
            .property("code", Code::schema())
            .required("type")
            .required("title")
            .required("status")
            .required("detail")
            .required("code")
            .additional_properties(Some(AdditionalProperties::FreeForm(true)))
            .into()
    }
}

impl ToSchema for Problem {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Problem")
    }
}

/// The closed set of codes, straight from the table in `problem.rs`.
impl PartialSchema for Code {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "The stable machine-readable failure code; each has one fixed status.",
            ))
            .enum_values(Some(Code::ALL.iter().map(|c| c.as_str())))
            .into()
    }
}

impl ToSchema for Code {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("ProblemCode")
    }
}

/// Registers the bearer schemes that routes name in `security(...)`.
pub struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let bearer = |description: &str| {
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(description))
                    .build(),
            )
        };
        components.add_security_scheme(
            ADMIN_SECURITY,
            bearer("The admin token (`ADMIN_TOKEN`), as `Authorization: Bearer <token>`."),
        );
        components.add_security_scheme(
            SHOPPER_SECURITY,
            bearer(
                "A shopper's session token from `POST /v1/sessions`, as \
                 `Authorization: Bearer <token>`.",
            ),
        );
    }
}

/// Adds the problem bodies, `Retry-After` headers and the statuses every route of a kind can
/// give (see the module documentation).
pub struct ProblemResponses;

/// Statuses any `/v1` route can answer whatever it does: the store or an actor conflicted,
/// failed, was unavailable or overloaded, or did not answer in time.
const DISPATCH_FAILURES: &[(&str, &str)] = &[
    (
        "409",
        "`version_conflict`: the resource changed concurrently; retry.",
    ),
    (
        "500",
        "`actor_failed` or `internal`: an unexpected failure.",
    ),
    (
        "503",
        "`overloaded`, `store_unavailable`, `commit_failed` or `shutting_down`; retry after \
         `Retry-After` seconds.",
    ),
    (
        "504",
        "`timeout`: no answer in time; the change may or may not have been applied.",
    ),
];

/// Statuses any route with a JSON body can answer before its handler runs.
const BODY_FAILURES: &[(&str, &str)] = &[
    ("400", "`malformed_json`: the body is not JSON."),
    ("413", "`body_too_large`: the body exceeds the size limit."),
    (
        "415",
        "`unsupported_media_type`: the body is not `application/json`.",
    ),
    (
        "422",
        "`unknown_field` or `invalid_body`: a member is unknown, missing or of the wrong type.",
    ),
];

/// Statuses any route that takes a bearer token can answer.
const AUTH_FAILURES: &[(&str, &str)] = &[(
    "401",
    "`unauthorized`: the bearer token is missing where required, wrong, revoked or expired.",
)];

impl Modify for ProblemResponses {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                if path.starts_with("/v1/") {
                    add_statuses(operation, DISPATCH_FAILURES);
                }
                if operation.request_body.is_some() {
                    add_statuses(operation, BODY_FAILURES);
                }
                if operation.security.is_some() {
                    add_statuses(operation, AUTH_FAILURES);
                }
                problem_bodies(operation);
            }
        }
    }
}

/// Adds each status, or appends its description to the route's own when the route declares it.
fn add_statuses(operation: &mut Operation, statuses: &[(&str, &str)]) {
    for (status, description) in statuses {
        match operation.responses.responses.get_mut(*status) {
            Some(RefOr::T(response)) => {
                if !response.description.contains(description) {
                    response.description = format!("{} Or {description}", response.description);
                }
            }
            Some(RefOr::Ref(_)) => {}
            None => {
                let response = ResponseBuilder::new().description(*description).build();
                operation
                    .responses
                    .responses
                    .insert((*status).to_owned(), RefOr::T(response));
            }
        }
    }
}

/// Every error response without content is a problem; retryable statuses say when to retry.
fn problem_bodies(operation: &mut Operation) {
    for (status, response) in operation.responses.responses.iter_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        let is_error = status.starts_with('4') || status.starts_with('5');
        if is_error && response.content.is_empty() {
            response.content.insert(
                PROBLEM_CONTENT_TYPE.to_owned(),
                RefOr::T(Content::new(Some(RefOr::Ref(
                    utoipa::openapi::Ref::from_schema_name(Problem::name()),
                )))),
            );
        }
        if matches!(status.as_str(), "409" | "429" | "503") {
            let retry_after = HeaderBuilder::new()
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .minimum(Some(0)),
                ))
                .description(Some(
                    "Seconds to wait before retrying; on every 503 and 429, and on 409 \
                     `idempotency_in_progress`.",
                ))
                .build();
            response.headers.insert(
                header::RETRY_AFTER.as_str().to_owned(),
                RefOr::T(retry_after),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use std::collections::BTreeSet;
    use std::path::Path;

    const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

    fn json() -> Value {
        serde_json::from_slice(document_json()).expect("the document is JSON")
    }

    /// Every `(METHOD, path)` the document describes.
    fn documented(doc: &Value) -> BTreeSet<(String, String)> {
        let mut out = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for method in METHODS {
                if item.get(method).is_some() {
                    out.insert((method.to_uppercase(), path.clone()));
                }
            }
        }
        out
    }

    /// Every `.route("<path>", <method>(...)...)` in this crate's sources: the router's routes.
    /// The router is built from literal paths only (no `nest`), which `no_nested_routers`
    /// keeps true, so reading the calls finds every route.
    fn routed() -> BTreeSet<(String, String)> {
        let mut out = BTreeSet::new();
        for source in sources(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src")) {
            let text = std::fs::read_to_string(&source).expect("readable source");
            // Tests build routers of their own; the naive engine's router serves a subset of
            // the same routes, so it is read like the others.
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            out.extend(route_calls(code));
        }
        out
    }

    fn sources(dir: &Path) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).expect("src dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(sources(&path));
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
        out
    }

    /// The `(METHOD, path)` pairs of every `.route(...)` call in `text`.
    fn route_calls(text: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut rest = text;
        while let Some(at) = rest.find(".route(") {
            let call = &rest[at + ".route(".len()..];
            let end = closing_paren(call).expect("a closed .route( call");
            let args = &call[..end];
            rest = &call[end..];
            let Some(path) = args.split('"').nth(1) else {
                continue;
            };
            let handlers = &args[args.find(',').unwrap_or(0)..];
            for method in METHODS {
                let called = handlers.match_indices(&format!("{method}(")).any(|(i, _)| {
                    i == 0 || {
                        let before = handlers.as_bytes()[i - 1];
                        !(before.is_ascii_alphanumeric() || before == b'_' || before == b':')
                    }
                });
                if called {
                    out.push((method.to_uppercase(), path.to_owned()));
                }
            }
        }
        out
    }

    fn closing_paren(s: &str) -> Option<usize> {
        let mut depth = 1usize;
        for (i, c) in s.char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(i);
                    }
                }
                _ => {}
            }
        }
        None
    }

    #[test]
    fn route_calls_are_read_like_the_router_reads_them() {
        let text = r#"
            .route("/a/{id}", put(products::define).get(products::get))
            .route(
                "/b",
                post(carts::create),
            )
            .route("/c", get(ops::dashboard))"#;
        let calls = route_calls(text);
        assert_eq!(
            calls,
            vec![
                ("GET".to_owned(), "/a/{id}".to_owned()),
                ("PUT".to_owned(), "/a/{id}".to_owned()),
                ("POST".to_owned(), "/b".to_owned()),
                ("GET".to_owned(), "/c".to_owned()),
            ]
        );
    }

    /// A new route without documentation fails here: annotate its handler with
    /// `#[utoipa::path]` and list it in `ApiDoc` (see the module documentation).
    #[test]
    fn every_route_is_documented_and_every_documented_route_exists() {
        let doc = json();
        let documented = documented(&doc);
        let routed = routed();
        let undocumented: Vec<_> = routed.difference(&documented).collect();
        assert!(
            undocumented.is_empty(),
            "routes without documentation: {undocumented:?}"
        );
        let unrouted: Vec<_> = documented.difference(&routed).collect();
        assert!(
            unrouted.is_empty(),
            "documented but not routed: {unrouted:?}"
        );
    }

    /// Every `$ref` in `value`, recursively.
    fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
        match value {
            Value::Object(map) => {
                for (key, member) in map {
                    match (key.as_str(), member) {
                        ("$ref", Value::String(target)) => out.push(target),
                        _ => refs(member, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|item| refs(item, out)),
            _ => {}
        }
    }

    /// The structural rules of OpenAPI 3 that a generator can break: the version, the required
    /// members, resolvable references, declared path parameters, described responses, and
    /// security schemes that exist.
    #[test]
    fn document_is_valid_openapi_3() {
        let doc = json();
        let version = doc["openapi"].as_str().unwrap_or_default();
        assert!(version.starts_with("3."), "openapi {version}");
        assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
        let mut targets = Vec::new();
        refs(&doc, &mut targets);
        assert!(!targets.is_empty());
        for target in targets {
            let pointer = target.strip_prefix('#').expect("local reference");
            assert!(doc.pointer(pointer).is_some(), "{target} does not resolve");
        }
        let schemes = &doc["components"]["securitySchemes"];
        for (path, item) in doc["paths"].as_object().expect("paths") {
            assert!(path.starts_with('/'), "{path}");
            let templated: BTreeSet<&str> = path
                .split('/')
                .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
                .collect();
            for method in METHODS {
                let Some(operation) = item.get(method) else {
                    continue;
                };
                let declared: BTreeSet<&str> = operation["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|p| p["in"] == "path")
                    .map(|p| {
                        assert_eq!(p["required"], true, "{method} {path}: {p}");
                        p["name"].as_str().unwrap_or_default()
                    })
                    .collect();
                assert_eq!(declared, templated, "{method} {path}: path parameters");
                let responses = operation["responses"].as_object().expect("responses");
                assert!(!responses.is_empty(), "{method} {path} has no responses");
                for (status, response) in responses {
                    assert!(
                        status.len() == 3 && status.bytes().all(|b| b.is_ascii_digit()),
                        "{method} {path}: status {status}"
                    );
                    assert!(
                        response["description"].is_string(),
                        "{method} {path} {status}"
                    );
                }
                for requirement in operation["security"].as_array().into_iter().flatten() {
                    for scheme in requirement.as_object().expect("requirement").keys() {
                        assert!(schemes.get(scheme).is_some(), "{method} {path}: {scheme}");
                    }
                }
            }
        }
    }

    /// Every error response is a problem with the stable codes, and the codes are all there.
    #[test]
    fn errors_are_problems_with_every_code() {
        let doc = json();
        let codes = doc["components"]["schemas"]["ProblemCode"]["enum"]
            .as_array()
            .expect("the code enum");
        assert_eq!(codes.len(), Code::ALL.len());
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for method in METHODS {
                let Some(operation) = item.get(method) else {
                    continue;
                };
                for (status, response) in operation["responses"].as_object().expect("responses") {
                    if status.starts_with('4') || status.starts_with('5') {
                        let schema = &response["content"][PROBLEM_CONTENT_TYPE]["schema"]["$ref"];
                        assert_eq!(
                            schema, "#/components/schemas/Problem",
                            "{method} {path} {status}"
                        );
                    }
                    if status == "503" {
                        assert!(response["headers"]["retry-after"].is_object());
                    }
                }
            }
        }
    }

    /// Clients and tools (schemathesis's links) address operations by `operationId`, which
    /// defaults to the handler's name: two handlers called `get` would collide.
    #[test]
    fn operation_ids_are_unique() {
        let doc = json();
        let mut seen = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for method in METHODS {
                let Some(operation) = item.get(method) else {
                    continue;
                };
                let id = operation["operationId"].as_str().unwrap_or_default();
                assert!(!id.is_empty(), "{method} {path} has no operationId");
                assert!(
                    seen.insert(id.to_owned()),
                    "{method} {path}: operationId {id} is taken"
                );
            }
        }
    }

    #[test]
    fn no_nested_routers() {
        for source in sources(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src")) {
            let text = std::fs::read_to_string(&source).expect("readable source");
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            assert!(
                !code.contains(concat!(".ne", "st("))
                    && !code.contains(concat!(".route", "_service(")),
                "{}: nested routers hide their paths from the documentation test",
                source.display()
            );
        }
    }
}
