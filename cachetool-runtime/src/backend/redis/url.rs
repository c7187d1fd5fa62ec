//! Reading a Redis URL into where to connect, without connecting.

use redis::{ConnectionInfo, IntoConnectionInfo};

use crate::{Error, Result};

/// Where the servers are.
pub(crate) enum Target {
    /// One server: `redis://`, `rediss://`, `redis+unix://`, `unix://`.
    Single(Box<ConnectionInfo>),
    /// The seed nodes of a cluster: `redis+cluster://h:p,h:p` (`rediss+cluster://` for TLS).
    Cluster(Vec<ConnectionInfo>),
}

/// Parses `url`; errors are [`Config`](crate::ErrorKind::Config) errors that
/// show the URL without its password.
pub(crate) fn parse(url: &str) -> Result<Target> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| bad(url, "it has no scheme"))?;
    if scheme.starts_with("rediss") && !cfg!(feature = "redis-tls") {
        return Err(crate::features::feature_off(scheme, "redis-tls"));
    }
    match scheme {
        "redis" | "rediss" | "redis+unix" | "unix" => Ok(Target::Single(Box::new(single(url)?))),
        "redis+cluster" | "rediss+cluster" => {
            let plain = if scheme == "redis+cluster" {
                "redis"
            } else {
                "rediss"
            };
            // `#insecure` is for one server; a cluster trusts its CA instead.
            if rest.contains('#') {
                return Err(bad(
                    url,
                    "a cluster URL takes no #fragment (#insecure is for one server): \
                     trust the cluster's CA instead (SSL_CERT_FILE)",
                ));
            }
            // Credentials, if any, come before the first host and apply to all.
            let (userinfo, hosts) = match rest.rsplit_once('@') {
                Some((userinfo, hosts)) => (format!("{userinfo}@"), hosts),
                None => (String::new(), rest),
            };
            let hosts = match hosts.split_once('/') {
                Some((hosts, "" | "0")) => hosts,
                Some(_) => return Err(bad(url, "a cluster has only database 0")),
                None => hosts,
            };
            let nodes = hosts
                .split(',')
                .map(str::trim)
                .filter(|host| !host.is_empty())
                .map(|host| single(&format!("{plain}://{userinfo}{host}/")))
                .collect::<Result<Vec<_>>>()?;
            if nodes.is_empty() {
                return Err(bad(url, "it names no node"));
            }
            Ok(Target::Cluster(nodes))
        }
        _ => Err(bad(
            url,
            "the scheme is not redis, rediss, redis+unix, unix or redis+cluster",
        )),
    }
}

fn single(url: &str) -> Result<ConnectionInfo> {
    let info = url
        .into_connection_info()
        .map_err(|error| bad(url, &error.to_string()))?;
    // No `CLIENT SETINFO` on connect: a new connection costs no extra round trip.
    let settings = info.redis_settings().clone().set_skip_set_lib_name();
    Ok(info.set_redis_settings(settings))
}

fn bad(url: &str, why: &str) -> Error {
    Error::config(format!(
        "the Redis URL {:?} is not valid: {why}",
        redacted(url)
    ))
}

/// `url` with any password replaced by `***`.
pub(crate) fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.rsplit_once('@') {
        Some((userinfo, hosts)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
            format!("{scheme}://{user}:***@{hosts}")
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes() {
        assert!(matches!(
            parse("redis://127.0.0.1:6379/0"),
            Ok(Target::Single(_))
        ));
        assert!(matches!(
            parse("redis://u:p@127.0.0.1/2"),
            Ok(Target::Single(_))
        ));
        // TLS needs its own feature (`features.rs` tests the error without it).
        #[cfg(feature = "redis-tls")]
        assert!(matches!(
            parse("rediss://example.invalid:6380/"),
            Ok(Target::Single(_))
        ));
        assert!(matches!(
            parse("redis+unix:///tmp/redis.sock"),
            Ok(Target::Single(_))
        ));
        assert!(matches!(
            parse("unix:///tmp/redis.sock"),
            Ok(Target::Single(_))
        ));
        match parse("redis+cluster://127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002") {
            Ok(Target::Cluster(nodes)) => assert_eq!(nodes.len(), 3),
            _ => panic!("a cluster URL"),
        }
        assert!(parse("redis+cluster://").is_err());
        assert!(parse("redis+cluster://127.0.0.1:7000/3").is_err());
        assert!(parse("memcache://127.0.0.1").is_err());
        assert!(parse("127.0.0.1:6379").is_err());
    }

    #[test]
    fn errors_hide_the_password() {
        // URLs that fail to parse, each with a password in it.
        for url in [
            "redis://user:secret@host:notaport/",
            "redis://user:secret@host/notadb",
            "redis+cluster://user:secret@127.0.0.1:7000/3",
        ] {
            let Err(error) = parse(url) else {
                panic!("{url} must not parse")
            };
            assert!(!error.to_string().contains("secret"), "{error}");
        }
        assert_eq!(redacted("redis://u:secret@h:1/"), "redis://u:***@h:1/");
    }
}
