//! The near tier's URL parameters: `?local=N` (its capacity) and
//! `?local_ttl=S` (seconds, a decimal number), taken out of a Redis or
//! Memcached URL before the backend reads the rest.

use std::time::Duration;

use crate::{Error, Result};

/// What a URL says of the near tier, and the URL without it.
#[derive(Debug, PartialEq)]
pub(crate) struct LocalParams {
    pub(crate) url: String,
    pub(crate) capacity: Option<usize>,
    pub(crate) local_ttl: Option<Duration>,
}

/// Takes `local` and `local_ttl` out of `url`'s query; the other
/// parameters stay, in their order.
pub(crate) fn take_local_params(url: &str) -> Result<LocalParams> {
    // A fragment (`#insecure`) follows the query: kept as it is.
    let (url, fragment) = match url.split_once('#') {
        Some((url, fragment)) => (url, format!("#{fragment}")),
        None => (url, String::new()),
    };
    let Some((base, query)) = url.split_once('?') else {
        return Ok(LocalParams {
            url: format!("{url}{fragment}"),
            capacity: None,
            local_ttl: None,
        });
    };
    let mut capacity = None;
    let mut local_ttl = None;
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        match name {
            "local" => {
                let entries = value.parse::<usize>().ok().filter(|&entries| entries > 0);
                capacity = Some(entries.ok_or_else(|| {
                    Error::config(format!(
                        "local={value:?} in {url:?}: expected the local tier's number of entries, at least 1"
                    ))
                })?);
            }
            "local_ttl" => {
                let secs = value.parse::<f64>().ok().filter(|secs| *secs > 0.0);
                let ttl = secs.and_then(|secs| Duration::try_from_secs_f64(secs).ok());
                local_ttl = Some(ttl.ok_or_else(|| {
                    Error::config(format!(
                        "local_ttl={value:?} in {url:?}: expected seconds, more than zero (e.g. 2 or 0.5)"
                    ))
                })?);
            }
            _ => kept.push(pair),
        }
    }
    let url = match kept.is_empty() {
        true => format!("{base}{fragment}"),
        false => format!("{base}?{}{fragment}", kept.join("&")),
    };
    Ok(LocalParams {
        url,
        capacity,
        local_ttl,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_params_are_taken_out_and_the_rest_kept() {
        let params = take_local_params("redis://h:1/0?local=10000&protocol=resp3&local_ttl=0.5")
            .expect("valid");
        assert_eq!(params.url, "redis://h:1/0?protocol=resp3");
        assert_eq!(params.capacity, Some(10_000));
        assert_eq!(params.local_ttl, Some(Duration::from_millis(500)));
        let params = take_local_params("memcache://h:1?local=5").expect("valid");
        assert_eq!(params.url, "memcache://h:1");
        let plain = take_local_params("redis://h:1/").expect("valid");
        assert_eq!((plain.url.as_str(), plain.capacity), ("redis://h:1/", None));
        let insecure = take_local_params("rediss://h/?local=10#insecure").expect("valid");
        assert_eq!(insecure.url, "rediss://h/#insecure");
        assert_eq!(insecure.capacity, Some(10));
        let kept = take_local_params("rediss://h/?a=1&local=10#insecure").expect("valid");
        assert_eq!(kept.url, "rediss://h/?a=1#insecure");
        let bare = take_local_params("rediss://h/#insecure").expect("valid");
        assert_eq!(bare.url, "rediss://h/#insecure");
    }

    #[test]
    fn bad_local_params_say_what_is_expected() {
        for url in [
            "redis://h?local=0",
            "redis://h?local=many",
            "redis://h?local_ttl=0",
            "redis://h?local_ttl=-1",
            "redis://h?local_ttl=2s",
        ] {
            let error = take_local_params(url).expect_err(url).to_string();
            assert!(error.contains("expected"), "{url}: {error}");
        }
    }
}
