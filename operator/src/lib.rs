//! Switchyard operator: reconciles each Tenant, with the Routes, Connections and
//! Transformers of its namespace, into one runner workload per region.
//!
//! A reconcile is a pipeline (see [`reconcile::reconcile`]): fetch what the namespace
//! holds, [`plan::plan`] (pure: validate with the `crds` crate, [`build`] every object,
//! compute every status), server-side apply what changed, delete what is no longer
//! wanted, write the statuses.

pub mod build;
pub mod catalog;
pub mod child;
pub mod config;
pub mod controller;
pub mod crds;
pub mod error;
pub mod leader;
pub mod metrics;
pub mod names;
pub mod plan;
pub mod probes;
pub mod reconcile;
pub mod start;
pub mod status;
pub mod validate;
