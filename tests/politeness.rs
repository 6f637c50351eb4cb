//! Politeness (issue 11): however many checks run at once, at most 2 connections are open to one
//! mail server address (real servers limit connections per client). Counted from the timeline
//! of every connection actually opened, and shown to fail without the limit.

mod common;

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use common::*;
use mxdoctor_engine::sendas::SendasRequest;
use mxdoctor_net::timeline::{Step, StepKind};
use mxdoctor_proto::hostname::Hostname;

/// The most connections open at the same moment, per server address.
fn max_open(steps: &[Step]) -> HashMap<IpAddr, usize> {
    let mut events: Vec<(Duration, i32, IpAddr)> = Vec::new();
    for s in steps.iter().filter(|s| s.kind == StepKind::Connection) {
        let ip = s.peer.unwrap().ip();
        events.push((s.start, 1, ip));
        // A close at the same instant as an open counts first.
        events.push((s.end, -1, ip));
    }
    events.sort_by_key(|(t, delta, _)| (*t, *delta));
    let mut open: HashMap<IpAddr, i32> = HashMap::new();
    let mut most: HashMap<IpAddr, usize> = HashMap::new();
    for (_, delta, ip) in events {
        let n = open.entry(ip).or_default();
        *n += delta;
        let m = most.entry(ip).or_default();
        *m = (*m).max(*n as usize);
    }
    most
}

async fn six_checks_at_once(ctx: &mxdoctor_engine::Context) {
    let host = Hostname::parse("mail.good-mail.example").unwrap();
    let mut runs = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let (ctx, req) = (ctx.clone(), SendasRequest::new(host.clone(), 587));
        runs.spawn(async move { mxdoctor_engine::sendas::run(&ctx, &req).await });
    }
    while let Some(r) = runs.join_next().await {
        let r = r.unwrap();
        assert_eq!(r.verdict.id, "verdict.sendas.accept", "{:?}", r.verdict);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_two_connections_to_one_server_address() {
    let lab = start("good-domain").await;
    let ctx = mxdoctor::app::lab_context(&env(&lab), mxdoctor_net::clock::fixed(NOW), Duration::from_secs(5)).unwrap();
    let server: IpAddr = "198.51.100.80".parse().unwrap();

    let (limited, timeline) = ctx.clone().traced();
    six_checks_at_once(&limited).await;
    let steps = timeline.steps();
    let opened = steps.iter().filter(|s| s.kind == StepKind::Connection).count();
    assert!(opened >= 18, "six checks of three or more sessions each: {opened}");
    assert_eq!(
        max_open(&steps)[&server],
        2,
        "the default limit is 2 at once per address"
    );
    assert!(
        steps.iter().any(|s| !s.queued.is_zero()),
        "some connection must have waited for a slot"
    );

    // The same work without the gate opens more at once: the count above can fail.
    let mut unlimited = ctx.clone();
    unlimited.connector = unlimited.connector.clone().with_gate(None);
    let (unlimited, timeline) = unlimited.traced();
    six_checks_at_once(&unlimited).await;
    assert!(max_open(&timeline.steps())[&server] > 2);
}
