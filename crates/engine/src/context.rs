//! What a check needs from the outside world, injected: DNS, the connector, trust anchors and
//! the clock. The lab and the live Internet differ only here.

use std::time::Duration;

use mxdoctor_net::clock::SharedClock;
use mxdoctor_net::tls::TlsSettings;
use mxdoctor_net::{Connector, Dns};

#[derive(Clone, Debug)]
pub struct Context {
    pub dns: Dns,
    pub connector: Connector,
    pub tls: TlsSettings,
    pub clock: SharedClock,
    /// Per network step (connect, each reply, the handshake).
    pub timeout: Duration,
    /// For a whole run (one command, one domain of a scan): see [`crate::deadline`].
    pub deadline: Duration,
    /// The name we announce in EHLO.
    pub ehlo_name: String,
}

impl Context {
    /// This context with every DNS question and connection recorded on a fresh timeline
    /// (`--timeline`, the latency benchmark).
    pub fn traced(mut self) -> (Context, mxdoctor_net::timeline::Timeline) {
        let timeline = mxdoctor_net::timeline::Timeline::new();
        self.dns = self.dns.traced(timeline.clone());
        self.connector = self.connector.traced(timeline.clone());
        (self, timeline)
    }
}
