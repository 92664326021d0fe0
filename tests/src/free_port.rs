//! Ports for servers the harness starts as child processes (NATS, Redis, cluster nodes), which
//! must know their port before they bind it.
//!
//! Binding port 0 and handing the number on is racy: the kernel gives out the same ephemeral
//! range (`net.ipv4.ip_local_port_range`, 32768–60999 by default; Linux `ip-sysctl` docs) to
//! every outgoing connection's source port and every other `bind(0)`, so under a busy test run
//! another socket could take the port before the child binds it ("Address already in use").
//! These ports are drawn at random from below that range instead, where only other such picks
//! land, and checked free when drawn.

use std::net::TcpListener;

/// Lowest port drawn.
const LOWEST: u16 = 10_000;

/// Below the kernel's ephemeral range: read from procfs, else the Linux default's start.
fn below_ephemeral() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
        .filter(|start| *start > LOWEST + 1_000)
        .unwrap_or(32_768)
}

/// A port on 127.0.0.1 that was free a moment ago, outside the ephemeral range.
///
/// # Errors
///
/// When 200 random draws all found their port taken.
pub fn free_port() -> anyhow::Result<u16> {
    let end = below_ephemeral();
    for _ in 0..200 {
        // A v4 UUID's first field is 32 random bits.
        let draw = uuid::Uuid::new_v4().as_fields().0 % u32::from(end - LOWEST);
        let port = LOWEST + u16::try_from(draw).unwrap_or(0);
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    anyhow::bail!("no free port between {LOWEST} and {end} after 200 tries")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_free_and_below_the_ephemeral_range() {
        let end = below_ephemeral();
        for _ in 0..20 {
            let port = free_port().unwrap();
            assert!((LOWEST..end).contains(&port), "{port}");
            assert!(TcpListener::bind(("127.0.0.1", port)).is_ok());
        }
    }
}
