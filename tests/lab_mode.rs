//! The hard rule of lab mode: the connector dials only through the address map. An unmapped
//! documentation address is refused before any socket exists.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use mxdoctor_net::{AddressMap, ConnectError, Connector};

#[tokio::test]
async fn unmapped_documentation_address_is_refused_without_a_connection_attempt() {
    // A listener stands behind the one mapped address; nothing else is mapped.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target = listener.local_addr().unwrap();
    let mut map = AddressMap::new();
    map.insert("192.0.2.25:587".parse().unwrap(), target).unwrap();
    let connector = Connector::lab(map);

    let unmapped: SocketAddr = "192.0.2.99:587".parse().unwrap();
    let err = connector.connect(unmapped, Duration::from_secs(2)).await.unwrap_err();
    assert_eq!(err, ConnectError::Unmapped { addr: unmapped });
    // Same address, other port: also unmapped.
    let err = connector
        .connect("192.0.2.25:25".parse().unwrap(), Duration::from_secs(2))
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectError::Unmapped { .. }));
    // Nothing reached the listener.
    let accepted = tokio::time::timeout(Duration::from_millis(200), listener.accept()).await;
    assert!(accepted.is_err(), "an unmapped address produced a connection");

    // The mapped address does reach it.
    let _s = connector
        .connect("192.0.2.25:587".parse().unwrap(), Duration::from_secs(2))
        .await
        .unwrap();
    assert!(
        tokio::time::timeout(Duration::from_secs(2), listener.accept())
            .await
            .is_ok()
    );
}

#[test]
fn address_map_targets_must_be_loopback() {
    let mut map = AddressMap::new();
    let err = map.insert("192.0.2.25:587".parse().unwrap(), "198.51.100.7:587".parse().unwrap());
    assert!(matches!(err, Err(ConnectError::NotLoopback { .. })));
    assert!(AddressMap::parse_pairs("192.0.2.25:587=10.0.0.1:587").is_err());
    assert!(AddressMap::parse_pairs("192.0.2.25:587=127.0.0.1:2525").is_ok());
}

#[tokio::test]
async fn sendas_to_a_name_whose_address_is_not_in_the_map_is_an_unmapped_error() {
    let lab = common::start("seed").await;
    // The lab's DNS answers for this name, but only the shared host's ports are mapped:
    // take the map and remove everything, so the resolved address is unmapped.
    let mut env = common::env(&lab);
    env.map = AddressMap::new();
    let ctx =
        mxdoctor::app::lab_context(&env, mxdoctor_net::clock::fixed(common::NOW), Duration::from_secs(3)).unwrap();
    let req = mxdoctor::app::sendas_request("mail.hanako-shop.example", 587, None, None, None).unwrap();
    let r = mxdoctor_engine::sendas::run(&ctx, &req).await;
    assert_eq!(common::error_cause(&r).as_deref(), Some("unmapped"));
}
