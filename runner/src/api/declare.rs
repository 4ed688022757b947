//! The API's routes, each declared with the role it needs. Routes are only added through
//! [`ApiRoutes`], whose every method takes a [`Role`], so a route without one cannot be
//! written; the table it records is what the tests compare with `/openapi.json`.
//!
//! ```ignore
//! routes.post("/api/v1/namespaces/{namespace}/tasks/{id}/ack", Role::Editor, tasks::ack)
//! ```

use axum::Router;
use axum::handler::Handler;
use axum::http::Method;
use axum::middleware;
use axum::routing::{MethodFilter, on};

use super::AppState;
use super::auth::{self, Role};

/// One declared route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declared {
    pub method: Method,
    pub path: &'static str,
    pub role: Role,
}

/// A router whose routes each declare their role.
pub struct ApiRoutes {
    router: Router<AppState>,
    declared: Vec<Declared>,
}

impl Default for ApiRoutes {
    fn default() -> Self {
        Self::new()
    }
}

impl ApiRoutes {
    pub fn new() -> Self {
        Self {
            router: Router::new(),
            declared: Vec::new(),
        }
    }

    pub fn get<H: Handler<T, AppState>, T: 'static>(
        self,
        path: &'static str,
        role: Role,
        handler: H,
    ) -> Self {
        self.add(Method::GET, MethodFilter::GET, path, role, handler)
    }

    pub fn post<H: Handler<T, AppState>, T: 'static>(
        self,
        path: &'static str,
        role: Role,
        handler: H,
    ) -> Self {
        self.add(Method::POST, MethodFilter::POST, path, role, handler)
    }

    pub fn put<H: Handler<T, AppState>, T: 'static>(
        self,
        path: &'static str,
        role: Role,
        handler: H,
    ) -> Self {
        self.add(Method::PUT, MethodFilter::PUT, path, role, handler)
    }

    pub fn delete<H: Handler<T, AppState>, T: 'static>(
        self,
        path: &'static str,
        role: Role,
        handler: H,
    ) -> Self {
        self.add(Method::DELETE, MethodFilter::DELETE, path, role, handler)
    }

    fn add<H: Handler<T, AppState>, T: 'static>(
        mut self,
        method: Method,
        filter: MethodFilter,
        path: &'static str,
        role: Role,
        handler: H,
    ) -> Self {
        let checked = on(filter, handler).route_layer(middleware::from_fn(move |request, next| {
            auth::require(role, request, next)
        }));
        self.router = self.router.route(path, checked);
        self.declared.push(Declared { method, path, role });
        self
    }

    /// The routes and the role each needs.
    pub fn declared(&self) -> &[Declared] {
        &self.declared
    }

    pub fn into_router(self) -> Router<AppState> {
        self.router
    }
}
