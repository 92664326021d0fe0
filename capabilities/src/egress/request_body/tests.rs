use super::*;
use bytes::Bytes;
use http_body_util::BodyExt;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use wasmtime_wasi_http::io::TokioIo;

/// A body the test writes into, as a guest writes its outgoing body; `alive` is held while the
/// body exists.
struct Channel {
    frames: mpsc::Receiver<Bytes>,
    _alive: Arc<()>,
}

impl Body for Channel {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.frames
            .poll_recv(cx)
            .map(|frame| frame.map(|data| Ok(Frame::data(data))))
    }
}

fn channel() -> (mpsc::Sender<Bytes>, Channel, Arc<()>) {
    let (sender, frames) = mpsc::channel(1);
    let alive = Arc::new(());
    let body = Channel {
        frames,
        _alive: alive.clone(),
    };
    (sender, body, alive)
}

#[tokio::test]
async fn a_body_the_server_did_not_wait_for_takes_the_guests_writes_after_the_answer() {
    // A server that answers from the request head alone and closes, as /healthz does.
    let (client, mut server) = tokio::io::duplex(4096);
    let server = tokio::spawn(async move {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            server.read_exact(&mut byte).await.unwrap();
            head.push(byte[0]);
        }
        server
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
            .await
            .unwrap();
    });
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(client))
        .await
        .unwrap();
    let connection = tokio::spawn(connection);
    let (writer, body, alive) = channel();
    let request = http::Request::post("/healthz")
        .body(GuestRequestBody::new(body))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let text = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&text[..], b"ok");
    server.await.unwrap();
    // The connection is over and hyper has let go of the body ...
    let _ = connection.await;
    // ... yet the guest's writes after the answer still succeed.
    for _ in 0..3 {
        writer
            .send(Bytes::from_static(b"late"))
            .await
            .expect("the body is still read");
    }
    // Once the guest ends its body, the drain ends and lets go of it.
    drop(writer);
    tokio::time::timeout(Duration::from_secs(10), async {
        while Arc::strong_count(&alive) > 1 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the drain ends with the guest's body");
}

#[tokio::test]
async fn without_the_wrapper_the_same_writes_fail() {
    // The failure the wrapper prevents, so the test above cannot pass for another reason.
    let (writer, body, _) = channel();
    drop(body);
    assert!(writer.send(Bytes::from_static(b"late")).await.is_err());
    let (writer, body, _) = channel();
    drop(GuestRequestBody::new(body));
    writer
        .send(Bytes::from_static(b"late"))
        .await
        .expect("drained");
}

#[test]
fn a_body_already_at_its_end_is_not_drained() {
    // Outside a runtime: spawning would panic, so this proves nothing is spawned.
    drop(GuestRequestBody::new(http_body_util::Empty::<Bytes>::new()));
}
