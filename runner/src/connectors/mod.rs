//! Connectors: one folder per connection kind, each with its config resolution, its
//! incoming side (source) and its outgoing side (sink).

pub mod http;
pub mod webhook;
