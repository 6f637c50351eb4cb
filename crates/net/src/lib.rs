//! Network layer of mxdoctor: DNS, connections (direct or through the lab's address map),
//! the diagnostic SMTP client, the TLS probe, the legacy-TLS probe and the clock.
//! Everything here keeps evidence; nothing here decides what is good or bad.

pub mod cert;
pub mod clock;
pub mod connect;
pub mod dane;
pub mod dns;
pub mod dnslimits;
pub mod dnssec;
pub mod gate;
pub mod http;
pub mod https;
pub mod legacy;
pub mod mailbox;
pub mod public;
pub mod smtp;
pub mod timeline;
pub mod tls;

pub use connect::{AddressMap, Conn, ConnectError, Connector, Route};
pub use dns::{Dns, DnsConfig, DnsError, DnsQuery, DnsRecord, Rdata};
pub use hickory_resolver::proto::rr::RecordType;
