//! Network layer of mxdoctor: DNS, connections (direct or through the lab's address map),
//! the diagnostic SMTP client, the TLS probe, the legacy-TLS probe and the clock.
//! Everything here keeps evidence; nothing here decides what is good or bad.

pub mod cert;
pub mod clock;
pub mod connect;
pub mod dns;
pub mod http;
pub mod legacy;
pub mod public;
pub mod smtp;
pub mod tls;

pub use connect::{AddressMap, ConnectError, Connector};
pub use dns::{Dns, DnsConfig, DnsError, DnsQuery, DnsRecord, Rdata};
pub use hickory_resolver::proto::rr::RecordType;
