//! [`CacheBuilder`]: the settings of a new [`Cache`].

use std::sync::Arc;
use std::time::Duration;

use crate::backend::{Backend, ConnectOptions, MemoryBackend};
use crate::cache::{Cache, Parts};
use crate::near::NearTier;
use crate::{Error, Result};

// The default prefix of every key.
pub(crate) const DEFAULT_PREFIX: &str = "cachetool";
// The default capacity of an in-memory cache, in entries.
pub(crate) const DEFAULT_CAPACITY: usize = 100_000;
// The default lock timeout.
pub(crate) const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(30);
/// See [`CacheBuilder::fail_safe_throttle`].
const DEFAULT_FAIL_SAFE_THROTTLE: Duration = Duration::from_secs(1);
// The default largest value a byte backend is given.
pub(crate) const DEFAULT_MAX_VALUE_SIZE: usize = 16 << 20;

/// The settings of a new [`Cache`]; [`Cache::builder`] makes one.
///
/// ```
/// use std::time::Duration;
/// let cache = cachetool_runtime::Cache::builder()
///     .prefix("app")
///     .ttl(Duration::from_secs(60))
///     .capacity(100_000)
///     .build()?;
/// # Ok::<(), cachetool_runtime::Error>(())
/// ```
#[must_use]
pub struct CacheBuilder {
    prefix: String,
    ttl: Option<Duration>,
    capacity: Option<usize>,
    lock_timeout: Duration,
    max_value_size: usize,
    fail_safe_throttle: Duration,
    backend: Option<BackendChoice>,
    connect: ConnectOptions,
    /// The near tier's capacity (`local`), and its `local_ttl`.
    local: Option<usize>,
    local_ttl: Option<Duration>,
    /// Memcached's Redis backplane (`backplane`).
    backplane: Option<String>,
}

/// The backend, as chosen; a remote one is opened by `build`, once every
/// setting (its timeouts among them) is known.
enum BackendChoice {
    Given(Arc<dyn Backend>),
    #[cfg(feature = "redis")]
    Redis(String),
    #[cfg(feature = "memcached")]
    Memcached(String),
}

impl BackendChoice {
    fn is_memcached(&self) -> bool {
        #[cfg(feature = "memcached")]
        if let BackendChoice::Memcached(_) = self {
            return true;
        }
        false
    }
}

impl CacheBuilder {
    pub(crate) fn new() -> CacheBuilder {
        CacheBuilder {
            prefix: DEFAULT_PREFIX.to_owned(),
            ttl: None,
            capacity: None,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            max_value_size: DEFAULT_MAX_VALUE_SIZE,
            fail_safe_throttle: DEFAULT_FAIL_SAFE_THROTTLE,
            backend: None,
            connect: ConnectOptions::default(),
            local: None,
            local_ttl: None,
            backplane: None,
        }
    }

    /// The prefix of every key (default `"cachetool"`), so that applications can
    /// share a server: `clean_all` only ever drops this prefix's entries. It
    /// can't contain `:` (which ends it in keys), spaces or control characters.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The TTL of entries whose function sets none (default: none, entries stay
    /// until evicted or invalidated). A TTL of a hundred years or more
    /// (`Duration::MAX`) is no expiry.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// The most entries an in-memory cache holds (default 100,000); it keeps
    /// at most as many tag versions besides. Only for the in-memory backend
    /// this builder makes itself.
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = Some(capacity);
        self
    }

    /// How long a caller waits for another caller's computation of the same key
    /// before computing by itself (default 30 s). It is also the expiry of the
    /// lock in a shared backend, so a crashed process holds no one up for longer.
    /// A timeout over a hundred years (`Duration::MAX`) counts as a hundred years.
    pub fn lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// The largest encoded value given to a byte backend (default 16 MiB); a larger
    /// one is not stored (the caller still gets it) and counted in
    /// [`Stats::oversized`](crate::Stats::oversized).
    pub fn max_value_size(mut self, bytes: usize) -> Self {
        self.max_value_size = bytes;
        self
    }

    /// After a `#[cached(fail_safe = ...)]` function's body failed and a call
    /// got an expired value instead, how long the calls of that key get it
    /// without running the body again (default 1 s), so that a failing
    /// database is not hit by every request. Zero: every call runs the body.
    pub fn fail_safe_throttle(mut self, throttle: Duration) -> Self {
        self.fail_safe_throttle = throttle;
        self
    }

    /// Keeps entries in `backend` instead of a new in-memory one. Several caches
    /// may share one backend: give each its own prefix.
    pub fn backend(mut self, backend: Arc<dyn Backend>) -> Self {
        self.backend = Some(BackendChoice::Given(backend));
        self
    }

    /// Keeps entries in Redis: `redis://[user:pass@]host[:port][/db]`, `rediss://`
    /// (TLS), `redis+unix:///path/to/socket` or
    /// `redis+cluster://host:port,host:port,...`. Connections open lazily: this
    /// only checks the URL.
    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    pub fn redis(mut self, url: &str) -> Result<Self> {
        let url = self.take_local_params(url)?;
        crate::backend::RedisBackend::open(&url, &self.connect)?;
        self.backend = Some(BackendChoice::Redis(url));
        Ok(self)
    }

    /// Keeps entries in Memcached: `memcache://host:port[,host:port...]`, keys
    /// spread over the servers by consistent hashing. Connections open lazily:
    /// this only checks the URL.
    #[cfg(feature = "memcached")]
    #[cfg_attr(docsrs, doc(cfg(feature = "memcached")))]
    pub fn memcached(mut self, url: &str) -> Result<Self> {
        let url = self.take_local_params(url)?;
        crate::backend::MemcachedBackend::open(&url, &self.connect)?;
        self.backend = Some(BackendChoice::Memcached(url));
        Ok(self)
    }

    /// `url` without its `local` and `local_ttl` parameters, which set
    /// [`local`](CacheBuilder::local) and [`local_ttl`](CacheBuilder::local_ttl).
    #[cfg(any(feature = "redis", feature = "memcached"))]
    fn take_local_params(&mut self, url: &str) -> Result<String> {
        let params = crate::near::take_local_params(url)?;
        self.local = params.capacity.or(self.local);
        self.local_ttl = params.local_ttl.or(self.local_ttl);
        Ok(params.url)
    }

    /// Keeps a local tier of at most `entries` entries in front of Redis or
    /// Memcached (two-level caching): a hit in it makes no round trip and
    /// decodes nothing, and it drops what any process changes through
    /// cachetool as the change is announced (Redis; Memcached with a
    /// [`backplane`](CacheBuilder::backplane)). While the channel is down it
    /// is emptied and not used. Without a channel, set
    /// [`local_ttl`](CacheBuilder::local_ttl): the longest it may serve a
    /// value changed elsewhere. URL: `?local=N`.
    pub fn local(mut self, entries: usize) -> Self {
        self.local = Some(entries);
        self
    }

    /// The longest an entry stays in the local tier (see
    /// [`local`](CacheBuilder::local)), whatever its TTL; required without a
    /// change channel. URL: `?local_ttl=S`, in seconds.
    pub fn local_ttl(mut self, ttl: Duration) -> Self {
        self.local_ttl = Some(ttl);
        self
    }

    /// Announces Memcached's changes on this Redis (`redis://...`), so that
    /// the local tiers of every process hear them as they do with Redis. Every
    /// process sharing the Memcached servers must use the same backplane.
    #[cfg(all(feature = "memcached", feature = "redis"))]
    #[cfg_attr(docsrs, doc(cfg(all(feature = "memcached", feature = "redis"))))]
    pub fn backplane(mut self, url: &str) -> Result<Self> {
        crate::backend::RedisBackend::open(url, &self.connect)?;
        self.backplane = Some(url.to_owned());
        Ok(self)
    }

    /// Picks the backend from the URL's scheme: `memory` (`memory://`, or
    /// `memory://?capacity=N` for [`capacity`](CacheBuilder::capacity)),
    /// `redis`, `rediss`, `redis+unix`, `redis+cluster` or `memcache`. A scheme whose backend this build
    /// leaves out is a [`Config`](crate::ErrorKind::Config) error naming the
    /// cargo feature to enable (`redis`, `redis-tls` or `memcached`). A Redis
    /// or Memcached URL may end in `?local=N` and `?local_ttl=S`: see
    /// [`local`](CacheBuilder::local).
    pub fn url(mut self, url: &str) -> Result<Self> {
        let scheme = url.split_once("://").map_or("", |(scheme, _)| scheme);
        match scheme {
            "memory" => {
                let capacity = crate::backend::memory_url_capacity(url)?;
                self.backend = None;
                Ok(match capacity {
                    Some(capacity) => self.capacity(capacity),
                    None => self,
                })
            }
            "redis" | "rediss" | "redis+unix" | "unix" | "redis+cluster" | "rediss+cluster" => {
                // `rediss` without `redis-tls` is refused by the Redis backend's
                // URL check, which `.redis(..)` shares.
                #[cfg(feature = "redis")]
                {
                    self.redis(url)
                }
                #[cfg(not(feature = "redis"))]
                {
                    let tls = scheme.starts_with("rediss");
                    let feature = if tls { "redis-tls" } else { "redis" };
                    Err(crate::features::feature_off(scheme, feature))
                }
            }
            "memcache" | "memcached" => {
                #[cfg(feature = "memcached")]
                {
                    self.memcached(url)
                }
                #[cfg(not(feature = "memcached"))]
                {
                    Err(crate::features::feature_off(scheme, "memcached"))
                }
            }
            _ => Err(Error::config(format!(
                "no backend for the URL {url:?}: expected memory://, redis://, rediss://, \
                 redis+unix://, redis+cluster:// or memcache://"
            ))),
        }
    }

    /// The longest wait for a connection to a server (default 1 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect.connect_timeout = timeout;
        self
    }

    /// The longest wait for a server's answer to one command (default 1 s). A
    /// call whose backend does not answer in time still returns its function's value.
    pub fn io_timeout(mut self, timeout: Duration) -> Self {
        self.connect.io_timeout = timeout;
        self
    }

    /// The cache, or a [`Config`](crate::ErrorKind::Config) error saying which
    /// setting is wrong.
    pub fn build(self) -> Result<Cache> {
        // No `:` in a prefix: the first `:` of a key ends its prefix, so that no
        // key of one prefix is ever a key of another ("a:tag" + ":epoch" would
        // be prefix "a"'s tag "epoch").
        if self.prefix.is_empty()
            || self
                .prefix
                .chars()
                .any(|c| c == ':' || c.is_whitespace() || c.is_control())
        {
            return Err(Error::config(format!(
                "the prefix {:?} must be non-empty, without `:`, spaces or control characters",
                self.prefix
            )));
        }
        if self.ttl == Some(Duration::ZERO) {
            return Err(Error::config(
                "a default ttl of zero would store nothing; leave ttl unset for no expiry",
            ));
        }
        if self.lock_timeout.is_zero() {
            return Err(Error::config("the lock timeout must be more than zero"));
        }
        self.connect.check()?;
        let opens_memcached = self
            .backend
            .as_ref()
            .is_some_and(BackendChoice::is_memcached);
        let backend: Arc<dyn Backend> = match (self.backend, self.capacity) {
            (Some(_), Some(_)) => {
                return Err(Error::config(
                    "capacity applies to the in-memory backend the builder makes; set it on MemoryBackend::new instead",
                ))
            }
            (Some(BackendChoice::Given(backend)), None) => backend,
            #[cfg(feature = "redis")]
            (Some(BackendChoice::Redis(url)), None) => {
                Arc::new(crate::backend::RedisBackend::open(&url, &self.connect)?)
            }
            #[cfg(feature = "memcached")]
            (Some(BackendChoice::Memcached(url)), None) => {
                let memcached = crate::backend::MemcachedBackend::open(&url, &self.connect)?;
                Arc::new(match &self.backplane {
                    #[cfg(feature = "redis")]
                    Some(backplane) => memcached.with_backplane(backplane)?,
                    _ => memcached,
                })
            }
            (None, Some(0)) => return Err(Error::config("the capacity must be at least 1")),
            (None, capacity) => Arc::new(MemoryBackend::new(capacity.unwrap_or(DEFAULT_CAPACITY))),
        };
        if self.backplane.is_some() && !opens_memcached {
            return Err(Error::config(
                "a backplane announces the changes of a Memcached backend that the builder \
                 opens (.memcached(url) or .url(url)); Redis announces its own",
            ));
        }
        if self.local.is_none() && self.local_ttl.is_some() {
            return Err(Error::config(
                "local_ttl bounds the local tier: set local too",
            ));
        }
        let near = match self.local {
            Some(capacity) => Some(NearTier::open(
                &backend,
                &self.prefix,
                capacity,
                self.local_ttl,
            )?),
            None => None,
        };
        Ok(Cache::new(Parts {
            near,
            backend,
            prefix: &self.prefix,
            default_ttl: self.ttl,
            lock_timeout: self.lock_timeout,
            max_value_size: self.max_value_size,
            fail_safe_throttle: self.fail_safe_throttle,
        }))
    }
}
