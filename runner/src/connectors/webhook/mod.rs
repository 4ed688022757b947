//! Webhooks: items POSTed to `/webhooks/{namespace}/{route}`. The HTTP handler lives in
//! the API module; this module holds what is specific to the connector: how a sender
//! authenticates, how a body becomes items, and how a cXML webhook reads its document.

mod auth;
mod body;
mod cxml;

pub use auth::{WebhookAuthError, WebhookAuthenticator, sign};
pub use body::{BodyError, items_of_body, object_text};
pub use cxml::{CxmlIntake, CxmlRefusal};
