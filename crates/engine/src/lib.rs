//! The engine: checks probe through `mxdoctor-net`, turn what they saw into findings with
//! stable ids, and derive a verdict. Printing is elsewhere (`mxdoctor-report`).

pub mod aia;
pub mod bimi;
pub mod context;
pub mod dane;
pub mod deadline;
pub mod dkim;
pub mod dkimsig;
pub mod dmarc;
pub mod domain;
pub mod inbound;
pub mod ip;
pub mod mailbox;
pub mod message;
pub mod model;
pub mod mtasts;
pub mod mx;
pub mod provider;
pub mod received;
pub mod registry;
pub mod sendas;
pub mod spf;
pub mod spfdns;
pub mod suggest;
pub mod tlsrpt;
pub mod topics;

pub use context::Context;
pub use model::*;
