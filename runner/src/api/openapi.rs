//! The OpenAPI document: every operation with a summary, a description, a tag per
//! resource, and — under `/api/` — the 401 and 403 answers and the role it needs.

use axum::Json;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use super::declare::Declared;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Switchyard runner API",
        description = "Webhooks, the task queue, storage, the audit trail and route operations of one Switchyard runner. \
            Every route under `/api/` needs `Authorization: Bearer <token>` (a static API token or an OIDC JWT) and \
            a role (viewer, editor or admin; see each operation). Every error answer is an `ErrorBody` with a stable `code`."
    ),
    tags(
        (name = "webhooks", description = "Items sent in by other systems"),
        (name = "proxy", description = "Calls passed through to a Connection, each recorded as a task"),
        (name = "identity", description = "Who is calling, and what there is"),
        (name = "routes", description = "Routes and their queues"),
        (name = "tasks", description = "Queued items: inspect, retry, discard"),
        (name = "connections", description = "Remote systems"),
        (name = "storage", description = "Key-value storage: cursors, hashes, lookup tables"),
        (name = "audit", description = "Who did what, when, from where"),
        (name = "operations", description = "Probes and metrics"),
    ),
    paths(
        super::webhooks::receive,
        super::identity::whoami,
        super::identity::namespaces,
        super::routes::list_routes,
        super::connections::list_connections,
        super::connections::get_connection,
        super::connections::test_connection,
        super::routes::retry_failed,
        super::routes::trigger,
        super::tasks::list_tasks,
        super::tasks::get_task,
        super::tasks::retry_task,
        super::tasks::discard_task,
        super::tasks::ack_task,
        super::callbacks::receive,
        super::proxy::forward,
        super::storages::list_items,
        super::storages::get_item,
        super::storages::put_item,
        super::storages::delete_item,
        super::audit::list_events,
        super::health::healthz,
        super::health::readyz,
        super::health::metrics,
        document,
    ),
    components(schemas(super::ErrorBody)),
    modifiers(&BearerAuth, &Access)
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// Adds to each `/api/` operation its 401 and 403 answers, its tag (webhooks and
/// probes have theirs), and the role it needs (in the description and as
/// `x-switchyard-role`).
struct Access;

fn error_response(description: &str) -> RefOr<Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                utoipa::openapi::ContentBuilder::new()
                    .schema(Some(utoipa::openapi::Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build(),
    )
}

impl Modify for Access {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let routes = super::api_routes();
        for declared in routes.declared() {
            let Some(item) = openapi.paths.paths.get_mut(declared.path) else {
                continue;
            };
            let operation = match declared.method.as_str() {
                "GET" => item.get.as_mut(),
                "POST" => item.post.as_mut(),
                "PUT" => item.put.as_mut(),
                "DELETE" => item.delete.as_mut(),
                _ => None,
            };
            if let Some(operation) = operation {
                document_access(operation, declared);
            }
        }
    }
}

fn document_access(operation: &mut Operation, declared: &Declared) {
    let role = declared.role;
    let responses = &mut operation.responses.responses;
    responses.entry("401".into()).or_insert_with(|| {
        error_response("No credentials, or credentials that are not valid (`code`: `unauthorized`)")
    });
    responses.entry("403".into()).or_insert_with(|| {
        error_response(&format!(
            "The caller lacks role `{role}` (`code`: `forbidden`, `requiredRole`: `{role}`)"
        ))
    });
    let note = format!("\n\nNeeds role `{role}`.");
    operation.description = Some(operation.description.take().unwrap_or_default() + &note);
    let extensions = operation.extensions.get_or_insert_with(Default::default);
    extensions.insert("x-switchyard-role".into(), serde_json::json!(role));
}

/// The OpenAPI document
///
/// This document: every operation of the runner, the role each needs, and the error
/// body.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    responses((status = 200, description = "This document"))
)]
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
