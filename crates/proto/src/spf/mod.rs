//! SPF (RFC 7208): our own strict record parser and `check_host()` evaluator with a trace.
//!
//! mail-auth's SPF gives no trace, has no void-lookup limit and accepts invalid records, so the
//! diagnosis needs its own. The evaluator does no I/O: DNS is injected through [`SpfDns`], the
//! same way time is injected elsewhere. Conformance: the RFC 7208 test suite
//! (`tests/spf_conformance.rs`), served through the lab's real DNS server.

mod eval;
mod macros;
mod record;

pub use eval::{CheckHost, SpfDns, SpfDnsError, SpfInput, SpfOutcome, SpfResult, TraceEvent, check_host};
pub use macros::{MacroContext, expand, validate_macro_string};
pub use record::{
    Directive, Mechanism, Modifier, ParseError, Qualifier, SpfRecord, is_spf_record as is_spf, parse_record,
};

/// DNS-querying terms allowed in one evaluation (RFC 7208 section 4.6.4).
pub const MAX_DNS_TERMS: usize = 10;
/// Lookups that return no answer (NXDOMAIN or NODATA) allowed (section 4.6.4).
pub const MAX_VOID_LOOKUPS: usize = 2;
/// Address lookups per "mx" mechanism, names considered per "ptr" (section 4.6.4).
pub const MAX_MX_NAMES: usize = 10;
pub const MAX_PTR_NAMES: usize = 10;
