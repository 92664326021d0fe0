//! Against a real listener on 127.0.0.1: refused by default, reached once the range is opened.

use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const TIMEOUT: Duration = Duration::from_secs(10);

/// A receiver on 127.0.0.1 answering every request with `response`, counting connections.
async fn receiver(response: &'static [u8]) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut buf = [0; 1024];
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = stream.write_all(response).await;
            });
        }
    });
    (port, accepted)
}

const OK: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok";

fn loopback() -> Vec<IpRange> {
    vec!["127.0.0.0/8".parse().unwrap()]
}

#[tokio::test]
async fn loopback_is_refused_by_address_and_by_name_without_a_connection() {
    let (port, accepted) = receiver(OK).await;
    let literal: Url = format!("http://127.0.0.1:{port}/done").parse().unwrap();
    let refusal = check_url(&literal, &[]).unwrap_err();
    assert_eq!(refusal.reason(), "address_denied");
    for url in [
        "http://[::1]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://2130706433/",
    ] {
        assert!(check_url(&url.parse().unwrap(), &[]).is_err(), "{url}");
    }
    assert_eq!(
        check_url(&"http://93.184.216.34/".parse().unwrap(), &[]),
        Ok(())
    );

    let client = client(&[], TIMEOUT).unwrap();
    let by_name = format!("http://localhost:{port}/done");
    let error = client.post(&by_name).send().await.unwrap_err();
    assert!(error.is_connect(), "{error:?}");
    assert_eq!(accepted.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn an_opened_range_is_reached_by_address_and_by_name() {
    let (port, accepted) = receiver(OK).await;
    let opened = loopback();
    let literal: Url = format!("http://127.0.0.1:{port}/done").parse().unwrap();
    assert_eq!(check_url(&literal, &opened), Ok(()));
    let client = client(&opened, TIMEOUT).unwrap();
    let response = client
        .post(format!("http://localhost:{port}/done"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let (target, reached) = receiver(OK).await;
    let location: &'static str = Box::leak(
        format!(
            "HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:{target}/\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        )
        .into_boxed_str(),
    );
    let (port, _) = receiver(location.as_bytes()).await;
    let client = client(&loopback(), TIMEOUT).unwrap();
    let response = client
        .post(format!("http://127.0.0.1:{port}/"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(reached.load(Ordering::SeqCst), 0);
}
