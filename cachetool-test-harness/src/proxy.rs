//! A loopback TCP proxy in front of a test server that counts round trips as
//! the wire sees them: a round trip begins each time a client sends after
//! the server last answered it (or first). So a pipeline of commands written
//! before any answer is read is one, whatever the backend's own counter says.
//!
//! It also counts the connections it accepted (every connection a client
//! dialed), can listen on an address of the test's choosing, and can hold
//! every connection until a given number of them are open (a gate), so that
//! a test can prove that many were open at once.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// A running proxy; its threads relay for as long as the test process lives.
pub struct Proxy {
    address: String,
    round_trips: Arc<AtomicU64>,
    accepted: Arc<AtomicU64>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards every connection to `upstream`.
    pub fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        Proxy::serve(listener, upstream, 0)
    }

    /// The same on `address` (`host:port`), or the error of binding it.
    pub fn start_at(address: &str, upstream: &str) -> std::io::Result<Proxy> {
        Ok(Proxy::serve(TcpListener::bind(address)?, upstream, 0))
    }

    /// Like [`start`](Proxy::start), but relays nothing until `gate`
    /// connections have been accepted: a client's request waits for its
    /// answer until then, so `gate` connections are open at once (then every
    /// connection, earlier and later, is relayed as usual).
    pub fn start_gated(upstream: &str, gate: usize) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        Proxy::serve(listener, upstream, gate)
    }

    fn serve(listener: TcpListener, upstream: &str, gate: usize) -> Proxy {
        let address = listener.local_addr().unwrap().to_string();
        let round_trips = Arc::new(AtomicU64::new(0));
        let accepted = Arc::new(AtomicU64::new(0));
        let (counter, accepts) = (Arc::clone(&round_trips), Arc::clone(&accepted));
        let upstream = upstream.to_owned();
        std::thread::spawn(move || {
            // Connections held until the gate opens.
            let mut held = Vec::new();
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                accepts.fetch_add(1, Ordering::SeqCst);
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                held.push((client, server));
                if held.len() >= gate {
                    for (client, server) in held.drain(..) {
                        relay(client, server, Arc::clone(&counter));
                    }
                }
            }
        });
        Proxy {
            address,
            round_trips,
            accepted,
        }
    }

    /// `host:port` to connect to instead of the server.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Round trips so far, over all connections.
    pub fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::SeqCst)
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::SeqCst)
    }
}

/// Copies both ways; client bytes that follow an answer (or come first) start
/// a round trip.
fn relay(client: TcpStream, server: TcpStream, round_trips: Arc<AtomicU64>) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    // Whether the client must send anew: true at first and after each answer.
    let answered = Arc::new(AtomicBool::new(true));
    let (client_in, server_out) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    let requests = Arc::clone(&answered);
    std::thread::spawn(move || {
        copy(client_in, server_out, |_| {
            if requests.swap(false, Ordering::SeqCst) {
                round_trips.fetch_add(1, Ordering::SeqCst);
            }
        })
    });
    std::thread::spawn(move || copy(server, client, |_| answered.store(true, Ordering::SeqCst)));
}

fn copy(mut from: TcpStream, mut to: TcpStream, mut seen: impl FnMut(usize)) {
    let mut buffer = [0u8; 1 << 16];
    loop {
        match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(read) => {
                // Counted before it is forwarded: the answer can't come first.
                seen(read);
                if to.write_all(&buffer[..read]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}
