//! Pure protocol code of mxdoctor: no I/O, no clocks, no panics on any input.
//! Host names (IDNA), RFC 6125 name matching that explains itself, raw TLS hellos for the
//! legacy-version probe, SMTP replies and EHLO capabilities.
#![forbid(unsafe_code)]

pub mod addr;
pub mod arc;
pub mod bimi;
pub mod bounce;
pub mod bounce_vendor;
pub mod dkim;
pub mod dmarc;
pub mod dnsbl;
pub mod dsn;
pub mod headers;
pub mod hostname;
pub mod mail;
pub mod mtasts;
pub mod names;
pub mod ptr;
pub mod received;
pub mod ses;
pub mod smtp;
pub mod spf;
pub mod tags;
pub mod tls_hello;
pub mod tlsa;
pub mod tlsrpt;
