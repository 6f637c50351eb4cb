//! Network layer of mxdoctor: DNS, connections (direct or through the lab's address map),
//! the diagnostic SMTP client, the TLS probe and the clock. Everything here keeps evidence.

pub mod connect;

pub use connect::{AddressMap, ConnectError, Connector};
