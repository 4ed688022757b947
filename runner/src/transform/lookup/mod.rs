//! The `lookup` step: enrich an item from another Connection (an HTTP GET or a database
//! query), the answer written under a path. Answers are cached per route (the step is
//! built once per route side), keyed by the rendered request.
//!
//! A failure says whether another attempt may succeed ([`TransformError::is_transient`]):
//! the lookup service being down or slow is transient, a request it refuses is not. At
//! delivery a transient failure is retried like an unavailable receiver.

mod cache;
mod database;
mod http;
#[cfg(test)]
mod tests;

use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use switchyard_crds::path::FieldPath;
use switchyard_crds::v1alpha1::{LookupStep, OnNotFound};

use self::cache::{Answer, Cache};
use self::database::DatabaseLookup;
use self::http::HttpLookup;
use super::registry::Resources;
use super::{AsyncTransform, Context, JqProgram, TransformError, paths};

/// How long answers are reused when the step does not say: long enough to spare the
/// lookup service a request per item of a busy route, short enough for reference data
/// edits to show within a minute.
const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(60);
/// Answers kept when the step does not say: a typical reference table fits.
const DEFAULT_CACHE_SIZE: usize = 1_000;

/// Why one request failed, and whether it is worth another attempt.
#[derive(Debug)]
pub(crate) struct Failure {
    message: String,
    transient: bool,
}

impl Failure {
    fn transient(message: String) -> Self {
        Self {
            message,
            transient: true,
        }
    }

    fn permanent(message: String) -> Self {
        Self {
            message,
            transient: false,
        }
    }
}

enum Target {
    Http(HttpLookup),
    Database(DatabaseLookup),
}

/// Why a lookup step cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    /// Built where no Connections are available (e.g. a step test without them).
    #[error("a lookup needs its Connection `{name}`, which is not available here")]
    NoConnections { name: String },
    /// The Connection is missing, broken or of the wrong kind.
    #[error(transparent)]
    Connection(#[from] crate::connectors::registry::ConnectionError),
    /// A URL template of `lookup.http` does not parse.
    #[error("`lookup.http.{field}`: {source}")]
    Template {
        field: String,
        #[source]
        source: crate::connectors::http::TemplateError,
    },
    /// Neither `http` nor `database` is set.
    #[error("set exactly one of: http, database")]
    NoTarget,
}

impl LookupError {
    /// A static label for metrics and reasons.
    pub fn category(&self) -> &'static str {
        match self {
            Self::NoConnections { .. } => "lookup_no_connections",
            Self::Connection(error) => error.category(),
            Self::Template { .. } => "lookup_template",
            Self::NoTarget => "lookup_no_target",
        }
    }
}

pub struct Lookup {
    connection: String,
    target: Target,
    into: FieldPath,
    select: Option<JqProgram>,
    cache: Cache,
    on_not_found: OnNotFound,
    default: Option<Value>,
}

impl Lookup {
    pub fn build(
        spec: &LookupStep,
        into: FieldPath,
        select: Option<JqProgram>,
        resources: &Resources<'_>,
    ) -> Result<Self, LookupError> {
        let Some(connections) = resources.connections else {
            return Err(LookupError::NoConnections {
                name: spec.connection.clone(),
            });
        };
        let target = match (&spec.http, &spec.database) {
            (Some(http), _) => Target::Http(HttpLookup::new(
                connections.http_endpoint(resources.namespace, &spec.connection)?,
                http,
            )?),
            (None, Some(query)) => Target::Database(DatabaseLookup::new(
                connections.database_pool(resources.namespace, &spec.connection)?,
                query,
            )),
            (None, None) => return Err(LookupError::NoTarget),
        };
        Ok(Self {
            connection: spec.connection.clone(),
            target,
            into,
            select,
            cache: Cache::new(
                spec.cache_ttl_seconds
                    .map_or(DEFAULT_CACHE_TTL, Duration::from_secs),
                spec.cache_size
                    .map_or(DEFAULT_CACHE_SIZE, |size| size as usize),
            ),
            on_not_found: spec.on_not_found,
            default: spec.default.clone(),
        })
    }

    fn error(&self, failure: Failure) -> TransformError {
        TransformError::Lookup {
            connection: self.connection.clone(),
            message: failure.message,
            transient: failure.transient,
        }
    }

    /// The answer for `item`: from the cache, or asked and then cached. Returns the
    /// request as shown in messages too.
    async fn answer(&self, item: &Value) -> Result<(Answer, String), Failure> {
        match &self.target {
            Target::Http(http) => {
                let url = http.url(item)?;
                let key = url.to_string();
                let shown = format!("GET {}", crate::redact::redact(&key));
                if let Some(hit) = self.cache.get(&key) {
                    return Ok((hit, shown));
                }
                let answer = self.select(http.get(url).await?)?;
                self.cache.put(key, answer.clone());
                Ok((answer, shown))
            }
            Target::Database(database) => {
                let (bound, key) = database.bind(item);
                let shown = "the query".to_owned();
                if let Some(hit) = self.cache.get(&key) {
                    return Ok((hit, shown));
                }
                let answer = self.select(database.run(bound).await?)?;
                self.cache.put(key, answer.clone());
                Ok((answer, shown))
            }
        }
    }

    /// Applies `select`; no output or `null` is "not found".
    fn select(&self, answer: Answer) -> Result<Answer, Failure> {
        match (answer, &self.select) {
            (None, _) => Ok(None),
            (Some(value), None) => Ok(Some(value)),
            (Some(value), Some(program)) => program
                .first(value)
                .map(|selected| selected.filter(|v| !v.is_null()))
                .map_err(|e| Failure::permanent(format!("select: {e}"))),
        }
    }
}

#[async_trait]
impl AsyncTransform for Lookup {
    fn kind(&self) -> &'static str {
        "lookup"
    }

    async fn apply(
        &self,
        mut item: Value,
        _context: &Context,
        out: &mut Vec<Value>,
    ) -> Result<(), TransformError> {
        let (answer, shown) = self.answer(&item).await.map_err(|f| self.error(f))?;
        match (answer, self.on_not_found) {
            (Some(value), _) => paths::set(&mut item, &self.into, value)?,
            (None, OnNotFound::Omit) => {}
            (None, OnNotFound::Default) => {
                if let Some(default) = &self.default {
                    paths::set(&mut item, &self.into, default.clone())?;
                }
            }
            (None, OnNotFound::Fail) => {
                return Err(self.error(Failure::permanent(format!(
                    "{shown} found nothing (onNotFound: fail)"
                ))));
            }
        }
        out.push(item);
        Ok(())
    }
}
