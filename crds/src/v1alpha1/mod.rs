//! Version `v1alpha1` of the `switchyard.dev` API. Types only; behaviour lives in the
//! `catalog` and `validate` modules.

mod circuit;
mod common;
mod connection;
mod connection_kind;
mod delivery;
mod edi;
mod entity;
mod flows;
mod notification;
mod poll;
mod proxy;
mod route;
mod rules;
mod steps;
mod telemetry;
mod tenant;
mod transformer;
mod value_table;
mod values;
mod variables;

pub use circuit::*;
pub use common::*;
pub use connection::*;
pub use connection_kind::*;
pub use delivery::*;
pub use edi::*;
pub use entity::*;
pub use flows::*;
pub use notification::*;
pub use poll::*;
pub use proxy::*;
pub use route::*;
pub use steps::*;
pub use telemetry::*;
pub use tenant::*;
pub use transformer::*;
pub use value_table::*;
pub use values::*;
pub use variables::*;
