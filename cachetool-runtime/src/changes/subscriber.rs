//! The subscriber: a thread of its own with a dedicated connection,
//! subscribed to one prefix's channel, handing each change to a handler.
//!
//! Sync users have no runtime to run it on, and async users need nothing
//! more: the handler only updates the local tier, so one thread serves both.
//!
//! What the handler is told, in order:
//! - [`Event::Listening`] once the server confirmed the subscription (again);
//! - [`Event::Changed`] for each message of the channel;
//! - [`Event::Unreadable`] for a message of the channel that is not of the
//!   format (a newer writer's, a damaged one): a change may have been missed;
//! - [`Event::Lost`] as the first thing after the connection failed (an
//!   error, an end of stream, a server restart, an unanswered ping): changes
//!   may have been missed from then on, until the next `Listening`.
//!
//! A handler starts as if the channel were lost: nothing is known to be
//! heard before the first `Listening`.
//!
//! Connecting again waits as the backend's pool does after a failed connect
//! (`backend/redis/backoff.rs`). On a cluster the subscriber listens on one
//! node (classic `PUBLISH` reaches every node's subscribers); when it fails,
//! the next node of the URL is tried.
//!
//! The thread stops soon after its [`Subscription`] is dropped: every wait is
//! bounded by [`TICK`]. A message of the channel that is not ours, or is
//! damaged, is logged (`tracing::warn!`), counted and ignored.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use redis::{ConnectionInfo, RedisResult};

use super::message::{channel, decode, Message};
use crate::backend::{ConnectOptions, RedisBackoff};

/// The longest the thread goes without checking whether it should stop.
pub(crate) const TICK: Duration = Duration::from_millis(50);
/// After this long without a message, the connection is pinged: a server
/// that vanished without closing it (a cable, a frozen host) is noticed.
const PING_AFTER: Duration = Duration::from_secs(1);

/// What the subscriber tells its handler.
#[derive(Debug)]
pub(crate) enum Event<'m> {
    /// Subscribed: from now on every change is heard.
    Listening,
    /// The connection failed: changes may be missed until `Listening` again.
    Lost,
    /// A change published on the channel (by any backend, this one's too:
    /// `message.origin` tells).
    Changed(&'m Message),
    /// A message of the channel that could not be read (logged and counted
    /// as ignored too): whatever it announced is unknown.
    Unreadable,
}

/// What the local tier implements: called on the subscriber's thread, one
/// event at a time. It must not block for long (the thread reads nothing
/// meanwhile).
pub(crate) type Handler = Box<dyn FnMut(Event<'_>) + Send + 'static>;

/// Where to subscribe: the nodes to try in turn, and the timeouts.
pub(crate) struct Target {
    pub(crate) nodes: Vec<ConnectionInfo>,
    pub(crate) options: ConnectOptions,
    /// Where, for logs: `127.0.0.1:6379` or `cluster ...`.
    pub(crate) server: String,
}

/// A running subscriber. Dropping it stops its thread (within [`TICK`],
/// plus a connect or a ping in progress); the drop itself never waits.
pub(crate) struct Subscription {
    shared: Arc<Shared>,
    thread: Option<thread::JoinHandle<()>>,
}

struct Shared {
    stop: AtomicBool,
    ignored: AtomicU64,
}

impl Subscription {
    /// Starts a thread subscribed to `prefix`'s channel on `target`,
    /// handing what it hears to `handler`. Returns at once; the handler is
    /// told `Listening` once subscribed.
    pub(crate) fn start(
        target: Target,
        prefix: &str,
        handler: Handler,
    ) -> std::io::Result<Subscription> {
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            ignored: AtomicU64::new(0),
        });
        let listener = Listener {
            target,
            prefix: prefix.to_owned(),
            channel: channel(prefix),
            handler,
            shared: shared.clone(),
            backoff: RedisBackoff::default(),
            node: 0,
        };
        let thread = thread::Builder::new()
            .name(format!("cachetool-changes-{prefix}"))
            .spawn(move || listener.run())?;
        Ok(Subscription {
            shared,
            thread: Some(thread),
        })
    }

    /// Messages of the channel that were not ours or were damaged, ignored.
    pub(crate) fn ignored(&self) -> u64 {
        self.shared.ignored.load(Ordering::Relaxed)
    }

    /// Whether the thread has ended (after a drop of the subscription, or a
    /// panic of the handler).
    pub(crate) fn is_finished(&self) -> bool {
        self.thread
            .as_ref()
            .is_none_or(thread::JoinHandle::is_finished)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        // Not joined: a drop never waits on the network.
        self.thread.take();
    }
}

/// The thread's state.
struct Listener {
    target: Target,
    prefix: String,
    channel: String,
    handler: Handler,
    shared: Arc<Shared>,
    backoff: RedisBackoff,
    /// The node to try next, as an index into `target.nodes`.
    node: usize,
}

impl Listener {
    fn stopped(&self) -> bool {
        self.shared.stop.load(Ordering::Acquire)
    }

    fn run(mut self) {
        while !self.stopped() {
            let attempt = match self.backoff.admit() {
                Ok(attempt) => attempt,
                Err(paused) => {
                    thread::sleep(paused.left.clamp(Duration::from_millis(1), TICK));
                    continue;
                }
            };
            let info = self.target.nodes[self.node % self.target.nodes.len()].clone();
            let mut conn = match self.connect(&info) {
                Ok(conn) => conn,
                Err(error) => {
                    attempt.failed(&error);
                    self.next_node(&info, &error);
                    continue;
                }
            };
            let mut pubsub = conn.as_pubsub();
            // The confirmation of SUBSCRIBE is awaited within the I/O timeout.
            if let Err(error) = pubsub.subscribe(&self.channel) {
                attempt.failed(&error);
                self.next_node(&info, &error);
                continue;
            }
            attempt.succeeded();
            (self.handler)(Event::Listening);
            let error = self.listen(&mut pubsub);
            // Lost first: nothing else happens before the handler knows.
            (self.handler)(Event::Lost);
            if let Some(error) = error {
                self.next_node(&info, &error);
            }
        }
    }

    fn connect(&self, info: &ConnectionInfo) -> RedisResult<redis::Connection> {
        let options = self.target.options;
        // RESP2 whatever the URL asks: its SUBSCRIBE waits for the server's
        // confirmation, and messages arrive as replies, not pushes.
        let settings = (info.redis_settings().clone()).set_protocol(redis::ProtocolVersion::RESP2);
        let info = info.clone().set_redis_settings(settings);
        let conn =
            redis::Client::open(info)?.get_connection_with_timeout(options.connect_timeout)?;
        conn.set_read_timeout(Some(options.io_timeout))?;
        conn.set_write_timeout(Some(options.io_timeout))?;
        Ok(conn)
    }

    /// Reads messages until the connection fails (its error) or the
    /// subscription is dropped (`None`).
    fn listen(&mut self, pubsub: &mut redis::PubSub<'_>) -> Option<redis::RedisError> {
        if let Err(error) = pubsub.set_read_timeout(Some(TICK)) {
            return Some(error);
        }
        let mut heard = Instant::now();
        loop {
            if self.stopped() {
                return None;
            }
            match pubsub.get_message() {
                Ok(message) => {
                    heard = Instant::now();
                    self.deliver(&message);
                }
                Err(error) if error.is_timeout() => {
                    if heard.elapsed() >= PING_AFTER {
                        if let Err(error) = self.ping(pubsub) {
                            return Some(error);
                        }
                        heard = Instant::now();
                    }
                }
                Err(error) => return Some(error),
            }
        }
    }

    /// A ping, its answer awaited within the I/O timeout.
    fn ping(&self, pubsub: &mut redis::PubSub<'_>) -> RedisResult<()> {
        pubsub.set_read_timeout(Some(self.target.options.io_timeout))?;
        pubsub.ping::<redis::Value>()?;
        pubsub.set_read_timeout(Some(TICK))
    }

    fn deliver(&mut self, message: &redis::Msg) {
        if message.get_channel_name() != self.channel {
            return self.ignore("a message of another channel", message.get_payload_bytes());
        }
        match decode(&self.prefix, message.get_payload_bytes()) {
            Ok(decoded) => (self.handler)(Event::Changed(&decoded)),
            Err(why) => {
                self.ignore(why.0, message.get_payload_bytes());
                (self.handler)(Event::Unreadable);
            }
        }
    }

    fn ignore(&self, why: &str, payload: &[u8]) {
        self.shared.ignored.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            channel = %self.channel,
            server = %self.target.server,
            bytes = payload.len(),
            "cachetool: ignored a message on the changes channel: {why}"
        );
    }

    /// After a failure on `info`: log it, and try the next node next time.
    fn next_node(&mut self, info: &ConnectionInfo, error: &redis::RedisError) {
        if !self.stopped() {
            tracing::warn!(
                channel = %self.channel,
                node = %info.addr(),
                "cachetool: the changes channel failed: {error}"
            );
        }
        self.node = self.node.wrapping_add(1);
    }
}
