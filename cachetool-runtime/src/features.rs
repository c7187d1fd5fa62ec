//! The error for a URL whose backend was compiled out: the cargo feature
//! that brings it in is named, so the fix is one `cargo add` away.

use crate::Error;

/// A [`Config`](crate::ErrorKind::Config) error: `scheme://` URLs need the
/// cargo feature `feature` of cachetool, which this build does not have.
/// Only the scheme is shown: the rest of a URL may hold a password.
pub(crate) fn feature_off(scheme: &str, feature: &str) -> Error {
    Error::config(format!(
        "{scheme}:// URLs need cachetool's `{feature}` feature, which is not enabled: \
         `cargo add cachetool --features {feature}`, or `features = [\"{feature}\"]` in Cargo.toml"
    ))
}

#[cfg(test)]
mod tests {
    use crate::{Cache, ErrorKind};

    /// Every scheme whose feature is off in this build is a `Config` error
    /// naming that feature, whichever features the build has.
    #[test]
    fn urls_of_a_compiled_out_backend_name_its_feature() {
        const REDIS: bool = cfg!(feature = "redis");
        const TLS: bool = cfg!(feature = "redis-tls");
        const MEMCACHED: bool = cfg!(feature = "memcached");
        let cases = [
            ("redis://127.0.0.1:1/", "redis", REDIS),
            ("redis+unix:///tmp/none.sock", "redis", REDIS),
            ("redis+cluster://127.0.0.1:1", "redis", REDIS),
            ("rediss://127.0.0.1:1/", "redis-tls", TLS),
            ("rediss+cluster://127.0.0.1:1", "redis-tls", TLS),
            ("memcache://127.0.0.1:1", "memcached", MEMCACHED),
        ];
        for (url, feature, enabled) in cases {
            let outcome = Cache::builder().url(url);
            if enabled {
                // Opening only checks the URL: no connection is made.
                assert!(outcome.is_ok(), "{url}: {:?}", outcome.err());
                continue;
            }
            let error = match outcome {
                Ok(_) => panic!("{url} was accepted without the `{feature}` feature"),
                Err(error) => error,
            };
            assert_eq!(error.kind(), ErrorKind::Config, "{url}");
            let message = error.to_string();
            assert!(
                message.contains(&format!("`{feature}` feature")),
                "{url}: {message}"
            );
            let from_url = Cache::from_url(url).err().map(|error| error.to_string());
            assert_eq!(from_url.as_deref(), Some(message.as_str()), "{url}");
        }
    }

    #[test]
    fn an_unknown_scheme_is_a_config_error_listing_the_known_ones() {
        let error = Cache::builder().url("http://127.0.0.1/").err().unwrap();
        assert_eq!(error.kind(), ErrorKind::Config);
        assert!(error.to_string().contains("memcache://"), "{error}");
    }
}
