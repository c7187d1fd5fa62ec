//! `memcache://host:port[,host:port...][?compress_over=BYTES]`: what a URL asks for.

use crate::{Error, Result};

/// The port memcached listens on unless told otherwise.
pub(super) const DEFAULT_PORT: u16 = 11211;

/// What a Memcached URL says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Config {
    /// `host:port` of each server (IPv6 hosts in brackets), in the URL's order.
    pub(super) servers: Vec<String>,
    /// Values of at least this many bytes are stored LZ4-compressed (when that
    /// makes them smaller); `None`: never.
    pub(super) compress_over: Option<usize>,
}

/// Parses a URL without touching the network (host names are resolved at the first connection).
pub(super) fn parse(url: &str) -> Result<Config> {
    let rest = ["memcache://", "memcached://"]
        .iter()
        .find_map(|scheme| strip_prefix_ignore_case(url, scheme))
        .ok_or_else(|| bad(url, "expected memcache://host:port[,host:port...]"))?;
    let (authority, query) = match rest.split_once('?') {
        Some((authority, query)) => (authority, Some(query)),
        None => (rest, None),
    };
    let authority = authority.strip_suffix('/').unwrap_or(authority);
    if authority.contains('/') {
        return Err(bad(url, "a memcache URL has no path"));
    }
    if authority.contains('@') {
        return Err(bad(
            url,
            "user names and passwords (SASL) are not supported",
        ));
    }
    let mut servers = Vec::new();
    for server in authority.split(',') {
        let server = parse_server(server.trim()).map_err(|why| bad(url, &why))?;
        if servers.contains(&server) {
            return Err(bad(url, &format!("the server {server} is listed twice")));
        }
        servers.push(server);
    }
    let mut config = Config {
        servers,
        compress_over: None,
    };
    for pair in query
        .unwrap_or("")
        .split('&')
        .filter(|pair| !pair.is_empty())
    {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        match name {
            "compress_over" => {
                config.compress_over =
                    match value {
                        "off" | "none" => None,
                        _ => Some(value.parse::<usize>().ok().filter(|&n| n > 0).ok_or_else(
                            || {
                                bad(
                                    url,
                                    "compress_over takes a size in bytes (more than 0) or `off`",
                                )
                            },
                        )?),
                    };
            }
            _ => {
                return Err(bad(
                    url,
                    &format!("unknown parameter {name:?}; the only one is compress_over"),
                ))
            }
        }
    }
    Ok(config)
}

/// `host[:port]` or `[v6]:port` to `host:port`.
fn parse_server(server: &str) -> std::result::Result<String, String> {
    if server.is_empty() {
        return Err("a server is missing (empty host)".into());
    }
    let (host, port) = if let Some(bracketed) = server.strip_prefix('[') {
        let (host, after) = bracketed
            .split_once(']')
            .ok_or_else(|| format!("{server:?}: unclosed `[`"))?;
        let port = match after {
            "" => None,
            _ => Some(
                after
                    .strip_prefix(':')
                    .ok_or_else(|| format!("{server:?}: expected `:port` after `]`"))?,
            ),
        };
        (format!("[{host}]"), port)
    } else {
        match server.rsplit_once(':') {
            Some((host, port)) => (host.to_owned(), Some(port)),
            None => (server.to_owned(), None),
        }
    };
    if host.is_empty() || host == "[]" || host.contains(char::is_whitespace) {
        return Err(format!("{server:?}: bad host"));
    }
    let port = match port {
        None => DEFAULT_PORT,
        Some(port) => port
            .parse::<u16>()
            .ok()
            .filter(|&port| port != 0)
            .ok_or_else(|| format!("{server:?}: bad port"))?,
    };
    Ok(format!("{host}:{port}"))
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

fn bad(url: &str, why: &str) -> Error {
    Error::config(format!("bad Memcached URL {url:?}: {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_server_several_servers_default_port_and_ipv6() {
        let config = parse("memcache://127.0.0.1:11311").unwrap();
        assert_eq!(config.servers, ["127.0.0.1:11311"]);
        assert_eq!(config.compress_over, None);
        let config = parse("memcache://a:1, b ,[::1]:3,[::1]/?compress_over=65536").unwrap();
        assert_eq!(config.servers, ["a:1", "b:11211", "[::1]:3", "[::1]:11211"]);
        assert_eq!(config.compress_over, Some(65536));
        assert_eq!(parse("MEMCACHED://h").unwrap().servers, ["h:11211"]);
    }

    #[test]
    fn mistakes_are_config_errors() {
        for url in [
            "redis://h",
            "memcache://",
            "memcache://h:0",
            "memcache://h:x",
            "memcache://a,,b",
            "memcache://a,a:11211",
            "memcache://u:p@h",
            "memcache://h/db",
            "memcache://h?compress_over=0",
            "memcache://h?compress_over=big",
            "memcache://h?timeout=1",
            "memcache://[::1",
        ] {
            let error = parse(url).expect_err(url);
            assert_eq!(error.kind(), crate::ErrorKind::Config, "{url}");
            assert!(error.to_string().contains("Memcached URL"), "{error}");
        }
    }
}
