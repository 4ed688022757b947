//! The Switchyard runner: loads the compiled configuration, runs incoming triggers, the
//! transformer pipeline, the durable queue and outgoing delivery, and serves the
//! webhook endpoints, the REST API, `/metrics` and health probes.

pub mod api;
pub mod audit;
pub mod circuit;
pub mod cli;
pub mod connectors;
pub mod console;
pub mod engine;
pub mod entities;
pub mod formats;
pub mod housekeeping;
pub mod limits;
pub mod metrics;
pub mod notify;
pub mod proxy;
pub mod queue;
pub mod redact;
pub mod replicas;
pub mod runtime;
pub mod secrets;
pub mod status_report;
pub mod storage;
pub mod telemetry;
pub mod transform;
pub mod vars;
pub mod waiting;
