//! A real `nats-server` on a free port for the life of a test.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a fresh server may take to accept connections on a loaded machine.
const START_DEADLINE: Duration = Duration::from_secs(15);

/// A running `nats-server`, killed when dropped.
pub struct NatsServer {
    child: Child,
    port: u16,
}

impl NatsServer {
    /// Starts a server on a free loopback port and waits until it accepts TCP.
    pub fn start() -> NatsServer {
        let binary = binary().unwrap_or_else(|| {
            panic!(
                "nats-server not found in /usr/sbin or on PATH; the NATS backend tests need it: \
                 install it with `apt-get install nats-server`"
            )
        });
        let port = free_port();
        let child = Command::new(&binary)
            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let server = NatsServer { child, port };
        let deadline = Instant::now() + START_DEADLINE;
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "nats-server did not accept connections on port {port} within {START_DEADLINE:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    /// The URL clients connect to.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn binary() -> Option<PathBuf> {
    let packaged = PathBuf::from("/usr/sbin/nats-server");
    if packaged.is_file() {
        return Some(packaged);
    }
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("nats-server"))
            .find(|candidate| candidate.is_file())
    })
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}
