//! `--timeout` bounds one DNS question as a whole (issue 8 item 9): every server and attempt
//! together, not each attempt. Run on tokio's paused clock, so the figure is the logical time
//! the question took (timers jump when nothing else can run), the same on every machine.

use std::time::Duration;

use mxdoctor_net::{Dns, DnsConfig, RecordType};

#[tokio::test(start_paused = true)]
async fn a_question_ends_at_its_budget_whatever_the_attempts() {
    // A UDP socket that never answers (and no TCP listener): a dead resolver.
    let sink = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let budget = Duration::from_secs(2);
    let dns = Dns::new(&DnsConfig {
        servers: vec![sink.local_addr().unwrap()],
        timeout: budget,
        attempts: 3,
        trust_anchor: Default::default(),
    })
    .unwrap();
    let started = tokio::time::Instant::now();
    let e = dns.lookup("mail.example.", RecordType::A).await.unwrap_err();
    assert!(e.is_timeout(), "{e}");
    assert_eq!(started.elapsed(), budget, "the question must end at its budget");
    let q = dns.queries();
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].rcode, "TIMEOUT");
}
