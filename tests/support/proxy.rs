//! A loopback TCP proxy in front of a test server that counts round trips as
//! the wire sees them: a round trip begins each time a client sends after
//! the server last answered it (or first). So a pipeline of commands written
//! before any answer is read is one, whatever the backend's own counter says.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

pub struct Proxy {
    address: String,
    round_trips: Arc<AtomicU64>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards every connection to `upstream`.
    pub fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let address = listener.local_addr().unwrap().to_string();
        let round_trips = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&round_trips);
        let upstream = upstream.to_owned();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                relay(client, server, Arc::clone(&counter));
            }
        });
        Proxy {
            address,
            round_trips,
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
