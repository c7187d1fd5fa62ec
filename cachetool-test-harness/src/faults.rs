//! Listeners that misbehave as a broken or foreign server does: one that
//! accepts and never answers, a port nobody listens on, one whose accept
//! queue is full (a connect hangs), and one that answers anything with given
//! bytes. Each lives on a loopback port of its own, bounded in time.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A listener that accepts connections and never writes a byte. It holds
/// them until stopped or dropped (for 30 s at most).
pub struct Mute {
    address: String,
    stop: Arc<AtomicBool>,
}

impl Mute {
    /// Listens on a free loopback port.
    pub fn start() -> Mute {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        listener.set_nonblocking(true).unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut held = Vec::new();
            let until = Instant::now() + Duration::from_secs(30);
            while !stopped.load(Ordering::SeqCst) && Instant::now() < until {
                if let Ok((stream, _)) = listener.accept() {
                    held.push(stream);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        Mute { address, stop }
    }

    /// `127.0.0.1:{port}`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Closes the connections it holds and stops listening.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

impl Drop for Mute {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A loopback port that nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind a loopback port")
        .local_addr()
        .unwrap()
        .port()
}

/// A listener that never accepts, its accept queue filled: the kernel drops
/// new connection attempts, so a connect hangs until its timeout. The
/// listener and the connections that fill it live as long as the value.
pub struct FullQueue {
    listener: TcpListener,
    _fillers: Vec<TcpStream>,
}

impl FullQueue {
    /// Fills a new listener's queue (bounded by count and time: it panics if
    /// the queue never fills).
    pub fn new() -> FullQueue {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let address = listener.local_addr().unwrap();
        let mut fillers = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        // Each connect that completes takes a queue slot.
        for _ in 0..5000 {
            assert!(
                Instant::now() < deadline,
                "filling the accept queue took too long"
            );
            match TcpStream::connect_timeout(&address, Duration::from_millis(200)) {
                Ok(stream) => fillers.push(stream),
                Err(_) => {
                    return FullQueue {
                        listener,
                        _fillers: fillers,
                    }
                }
            }
        }
        panic!(
            "the accept queue never filled ({} connections)",
            fillers.len()
        );
    }

    /// Where a connect hangs.
    pub fn address(&self) -> SocketAddr {
        self.listener.local_addr().unwrap()
    }
}

impl Default for FullQueue {
    fn default() -> FullQueue {
        FullQueue::new()
    }
}

/// A server that reads one request on one connection, answers `answer` and
/// closes it; `127.0.0.1:{port}`. Bounded: it waits 10 s at most for the request.
pub fn liar(answer: &'static [u8]) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let address = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept() {
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut request = [0u8; 1024];
            let _ = stream.read(&mut request);
            let _ = stream.write_all(answer);
        }
    });
    address
}
