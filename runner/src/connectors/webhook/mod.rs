//! Webhooks: items POSTed to `/webhooks/{namespace}/{route}`. The HTTP handler lives in
//! the API module; this module holds what is specific to the connector: how a sender
//! authenticates and how a body becomes items.

mod auth;
mod body;

pub use auth::{WebhookAuthError, WebhookAuthenticator, sign};
pub use body::{BodyError, items_of_body};
