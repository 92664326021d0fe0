//! Against real listeners on loopback: a refused connection never reaches them.

use super::*;
use std::net::TcpListener;

/// A listener on 127.0.0.1 that never blocks, and its port.
fn listener() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

/// Whether a connection is waiting: the kernel finishes the handshake before `connect` returns,
/// so any connection made so far is already in the accept queue.
fn was_connected(listener: &TcpListener) -> bool {
    match listener.accept() {
        Ok(_) => true,
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => false,
        Err(e) => panic!("accept: {e}"),
    }
}

fn opened(list: &[&str]) -> Vec<wasmgate_config::IpRange> {
    list.iter().map(|r| r.parse().unwrap()).collect()
}

#[tokio::test]
async fn loopback_is_refused_by_default_without_touching_the_listener() {
    let (server, port) = listener();
    let rules = Rules::new(None, &[]);
    for host in ["127.0.0.1", "localhost"] {
        match connect(&rules, host, port).await {
            Err(ConnectError::Refused { refusal, address }) => {
                assert_eq!(refusal.reason(), "address_denied");
                assert!(address.is_some_and(|a| a.is_loopback()), "{address:?}");
            }
            other => panic!("{host}: {other:?}"),
        }
    }
    assert!(!was_connected(&server));
}

#[tokio::test]
async fn an_opened_range_connects_to_the_checked_address() {
    let (server, port) = listener();
    let rules = Rules::new(None, &opened(&["127.0.0.0/8"]));
    let (_stream, addr) = connect(&rules, "localhost", port).await.unwrap();
    assert_eq!(
        addr,
        SocketAddr::from(([127, 0, 0, 1], port)),
        "::1 stays refused"
    );
    assert!(was_connected(&server));
}

#[tokio::test]
async fn a_host_outside_the_list_is_refused_before_any_lookup() {
    let rules = Rules::new(
        Some(&["other.example".parse().unwrap()]),
        &opened(&["127.0.0.0/8"]),
    );
    match resolve(&rules, "127.0.0.1", 80).await {
        Err(ConnectError::Refused { refusal, address }) => {
            assert_eq!((refusal, address), (Refusal::HostNotGranted, None));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn literal_addresses_in_brackets_are_checked_like_any_other() {
    let rules = Rules::new(None, &[]);
    assert!(matches!(
        resolve(&rules, "[::1]", 80).await,
        Err(ConnectError::Refused { .. })
    ));
    assert_eq!(
        resolve(&rules, "[2606:4700::1]", 80).await.unwrap(),
        [SocketAddr::from(([0x2606, 0x4700, 0, 0, 0, 0, 0, 1], 80))]
    );
}
