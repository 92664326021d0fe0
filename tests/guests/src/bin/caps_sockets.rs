//! Proves the `sockets` grant goes through the egress guard: connects over `wasi:sockets/tcp` to
//! the IPv4 address in `?addr=A.B.C.D:PORT`, sends `ping\n` and answers `connected: ` and the
//! reply, or `refused: ` and the `wasi:sockets` error code (e.g. `access-denied`).

use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{IncomingRequest, ResponseOutparam};
use wasi::sockets::instance_network::instance_network;
use wasi::sockets::network::{ErrorCode, IpAddressFamily, IpSocketAddress, Ipv4SocketAddress};
use wasi::sockets::tcp_create_socket::create_tcp_socket;

struct Sockets;
wasi::http::proxy::export!(Sockets);

impl Guest for Sockets {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let query = request.path_with_query().unwrap_or_default();
        let Some(address) = query.split_once("addr=").and_then(|(_, a)| parse(a)) else {
            wasmgate_guests::respond(out, 400, &[], b"pass ?addr=A.B.C.D:PORT\n");
            return;
        };
        let body = match exchange(address) {
            Ok(reply) => format!("connected: {reply}"),
            Err(code) => format!("refused: {}", code.name()),
        };
        wasmgate_guests::respond(out, 200, &[("content-type", "text/plain")], body.as_bytes());
    }
}

fn parse(text: &str) -> Option<IpSocketAddress> {
    let (ip, port) = text.split_once(':')?;
    let octets: Vec<u8> = ip
        .split('.')
        .map(|o| o.parse().ok())
        .collect::<Option<_>>()?;
    let [a, b, c, d] = octets.try_into().ok()?;
    Some(IpSocketAddress::Ipv4(Ipv4SocketAddress {
        port: port.parse().ok()?,
        address: (a, b, c, d),
    }))
}

/// Connects, sends one line and reads the reply.
fn exchange(address: IpSocketAddress) -> Result<String, ErrorCode> {
    let socket = create_tcp_socket(IpAddressFamily::Ipv4)?;
    socket.start_connect(&instance_network(), address)?;
    let (input, output) = loop {
        match socket.finish_connect() {
            Err(ErrorCode::WouldBlock) => socket.subscribe().block(),
            other => break other?,
        }
    };
    if output.blocking_write_and_flush(b"ping\n").is_err() {
        return Err(ErrorCode::ConnectionReset);
    }
    let reply = input
        .blocking_read(64)
        .map_err(|_| ErrorCode::ConnectionReset)?;
    Ok(String::from_utf8_lossy(&reply).into_owned())
}

fn main() {}
