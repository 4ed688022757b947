use axum::Json;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "Switchyard runner API", description = "Webhooks, the task queue and route operations of one Switchyard runner."),
    paths(
        super::webhooks::receive,
        super::routes::list_routes,
        super::connections::test_connection,
        super::routes::retry_failed,
        super::routes::trigger,
        super::tasks::list_tasks,
        super::tasks::get_task,
        super::tasks::retry_task,
        super::tasks::discard_task,
        super::tasks::ack_task,
        super::callbacks::receive,
        super::storages::list_items,
        super::storages::get_item,
        super::storages::put_item,
        super::storages::delete_item,
        super::health::healthz,
        super::health::readyz,
        super::health::metrics,
    ),
    modifiers(&BearerAuth)
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

/// The OpenAPI document of this API.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
