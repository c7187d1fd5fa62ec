//! The Lua scripts of the Redis backend, and how a call of one is built.
//!
//! Each script is called with keys of one slot only (a cluster refuses others). A call is an
//! `EVALSHA`; if the server does not know the script (`NOSCRIPT`: a restart, a
//! `SCRIPT FLUSH`, a new node) the caller sends the same call as `EVAL`, which
//! also loads it. The script texts and argument layouts are plain data, so an
//! async twin of this backend reuses them as they are.
//!
//! Every `PUBLISH` of these scripts (a change's announcement, see `changes/`)
//! is a `redis.pcall`: a user whose ACL refuses the channel (Redis 7 gives a
//! new user no channel unless told `&*` or `allchannels`) still writes; only
//! the announcement is lost, and a subscriber of that user is refused too,
//! so it never reports `Listening`.

use std::sync::LazyLock;

use bytes::Bytes;

use crate::changes::Publication;
use crate::codec;

/// A script and its SHA-1.
pub(crate) struct Script {
    pub(crate) code: &'static str,
    pub(crate) sha: String,
}

impl Script {
    fn new(code: &'static str) -> Script {
        Script {
            code,
            sha: redis::Script::new(code).get_hash().to_owned(),
        }
    }

    /// `EVALSHA sha numkeys keys... args...` (or `EVAL code ...` when `by_code`).
    pub(crate) fn call(&self, by_code: bool, keys: &[&str], args: &[&[u8]]) -> redis::Cmd {
        let mut cmd = if by_code {
            let mut cmd = redis::cmd("EVAL");
            cmd.arg(self.code);
            cmd
        } else {
            let mut cmd = redis::cmd("EVALSHA");
            cmd.arg(&self.sha);
            cmd
        };
        cmd.arg(keys.len());
        for key in keys {
            cmd.arg(*key);
        }
        for arg in args {
            cmd.arg(*arg);
        }
        cmd
    }
}

/// Compare-and-set of an entry, and optionally the release of its lock in
/// the same call.
///
/// `KEYS[1]`: the entry; `KEYS[2]`, if given: the lock to release (deleted
/// only if it holds `ARGV[6]`, the owner's token), whether or not the entry
/// was stored. `ARGV`: mode (`absent`: no string under the key, as `MGET` saw
/// it; `prefix`; `value`), what was seen (the first 12 bytes of an envelope in
/// `prefix` mode: magic, format, kind and the random stamp of that write; the
/// whole value in `value` mode), the seen length (`prefix` mode), the new
/// value, the TTL in milliseconds (`0`: none), the lock token (empty without
/// a lock), and, if given, a channel and a message to publish there once the
/// value is stored (the change's announcement, see `changes/`). Returns 1 if
/// it stored.
pub(crate) static REPLACE_IF: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local key = KEYS[1]
local mode = ARGV[1]
local same
if mode == 'absent' then
  same = redis.call('TYPE', key).ok ~= 'string'
elseif mode == 'prefix' then
  same = redis.call('STRLEN', key) == tonumber(ARGV[3])
    and redis.call('GETRANGE', key, 0, string.len(ARGV[2]) - 1) == ARGV[2]
else
  same = redis.call('GET', key) == ARGV[2]
end
if same then
  if ARGV[5] == '0' then
    redis.call('SET', key, ARGV[4])
  else
    redis.call('SET', key, ARGV[4], 'PX', ARGV[5])
  end
end
if KEYS[2] and redis.call('GET', KEYS[2]) == ARGV[6] then
  redis.call('DEL', KEYS[2])
end
if same then
  if ARGV[8] then redis.pcall('PUBLISH', ARGV[7], ARGV[8]) end
  return 1
end
return 0
"#,
    )
});

/// `SET` of a key, and the announcement of the change (see `changes/`) on
/// the server that holds the key, in the same call: the message leaves after
/// the write, and, on a cluster, from the key's node (a cluster pipeline
/// refuses a bare `PUBLISH`). Sent as `EVAL`, which never meets `NOSCRIPT`.
/// `KEYS[1]`: the key; `ARGV`: the value, the TTL in milliseconds (`0`:
/// none), the channel, the message.
pub(crate) static SET_AND_PUBLISH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
if ARGV[2] == '0' then
  redis.call('SET', KEYS[1], ARGV[1])
else
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
redis.pcall('PUBLISH', ARGV[3], ARGV[4])
return 1
"#,
    )
});

/// `DEL` of keys of one slot (one server: any keys), and the announcement of
/// the change after it, as [`SET_AND_PUBLISH`] does. `KEYS`: the keys;
/// `ARGV`: the channel, the message. `DEL`s at most 1,000 keys at a time
/// (Lua's `unpack` has a stack limit). Returns how many keys it deleted.
pub(crate) static DELETE_AND_PUBLISH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local deleted = 0
for first = 1, #KEYS, 1000 do
  deleted = deleted + redis.call('DEL', unpack(KEYS, first, math.min(first + 999, #KEYS)))
end
redis.pcall('PUBLISH', ARGV[1], ARGV[2])
return deleted
"#,
    )
});

/// Compare-and-delete of a lock. `KEYS[1]`: the lock; `ARGV[1]`: the owner's
/// token. Returns 1 if it deleted.
pub(crate) static UNLOCK: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"#,
    )
});

/// Mends a tag or epoch key that holds no string: another type (a list, a
/// hash, a set... left by another program: `SET NX` leaves it, `MGET` reads it
/// as nil, so without this every call would miss forever) is replaced by the
/// candidate version, as a clean would; an absent key (deleted or evicted
/// since the `SET NX`) gets it too. A string found there (another caller was
/// quicker) is kept. `KEYS[1]`: the key; `ARGV[1]`: the candidate. Returns
/// the type found (`none` when absent) and the version the key now holds.
pub(crate) static MEND_VERSION: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local kind = redis.call('TYPE', KEYS[1]).ok
if kind ~= 'string' then
  redis.call('SET', KEYS[1], ARGV[1])
  return {kind, ARGV[1]}
end
return {kind, redis.call('GET', KEYS[1])}
"#,
    )
});

/// Reads a key as `MGET` does on one server: its string, or nil for a key of
/// another type, where `GET` answers `WRONGTYPE`. A cluster refuses `MGET` in
/// a pipeline, and one `WRONGTYPE` fails the whole pipeline: its reads fall
/// back to this, once, when a key of another type is met. `KEYS[1]`: the key.
pub(crate) static READ_STRING: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
if redis.call('TYPE', KEYS[1]).ok == 'string' then
  return redis.call('GET', KEYS[1])
end
return false
"#,
    )
});

/// The `ARGV` of one [`REPLACE_IF`] call, built once for the sync and the
/// async backend: how to compare with `seen`, the value, its TTL, and the
/// lock's token when the lock is released in the same call.
pub(crate) struct ReplaceIfArgs<'a> {
    mode: &'static [u8],
    seen: &'a [u8],
    seen_len: String,
    value: &'a [u8],
    ttl_ms: String,
    token: Option<String>,
    /// The announcement to publish if the value is stored.
    publication: Option<Publication>,
}

impl<'a> ReplaceIfArgs<'a> {
    /// `ttl_ms` 0 means no expiry; `token` is the lock's, when `KEYS[2]` is
    /// the lock; `publication`, the change's announcement, sent if it stores.
    /// An envelope of ours is compared by its first 12 bytes and length, so a
    /// large value is not sent back to the server; anything else in full.
    pub(crate) fn new(
        seen: Option<&'a Bytes>,
        value: &'a [u8],
        ttl_ms: u64,
        token: Option<u64>,
        publication: Option<Publication>,
    ) -> ReplaceIfArgs<'a> {
        let (mode, seen, seen_len): (&'static [u8], &[u8], String) = match seen {
            None => (b"absent", b"", String::new()),
            Some(bytes) if codec::is_entry(bytes) => (
                b"prefix",
                &bytes[..codec::WRITE_ID_LEN],
                bytes.len().to_string(),
            ),
            Some(bytes) => (b"value", bytes, String::new()),
        };
        ReplaceIfArgs {
            mode,
            seen,
            seen_len,
            value,
            ttl_ms: ttl_ms.to_string(),
            token: token.map(|token| token.to_string()),
            publication,
        }
    }

    /// `ARGV[1..]`, in the script's order.
    pub(crate) fn args(&self) -> Vec<&[u8]> {
        let mut args = vec![
            self.mode,
            self.seen,
            self.seen_len.as_bytes(),
            self.value,
            self.ttl_ms.as_bytes(),
        ];
        match &self.publication {
            Some(publication) => args.extend([
                self.token.as_ref().map_or(&b""[..], String::as_bytes),
                publication.channel.as_bytes(),
                &publication.message[..],
            ]),
            None => args.extend(self.token.as_ref().map(String::as_bytes)),
        }
        args
    }
}
