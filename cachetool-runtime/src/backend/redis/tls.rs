//! Why a `rediss://` connection failed, in words.
//!
//! A blocking TLS connection does its handshake on its first exchange, so a
//! failed handshake surfaces as a failed command: a rustls error deep in the
//! error's chain (a rejected certificate, an alert from the server), or, when
//! the port does not speak TLS at all, only an I/O error such as "Resource
//! temporarily unavailable" (the read timed out waiting for the server's
//! hello). This names TLS and the likely reason, so that the error says more
//! than "redis SET failed: Resource temporarily unavailable".

use std::error::Error as StdError;
use std::io;
use std::sync::Arc;

use redis::RedisError;
use rustls::AlertDescription;

/// Why TLS failed, if `error` is a TLS failure: a rustls error anywhere in
/// its chain, or, on the `first_exchange` of a new connection (the handshake),
/// a timeout or a closed connection.
pub(super) fn failure(error: &RedisError, first_exchange: bool) -> Option<&'static str> {
    match rustls_error(error) {
        Some(rustls::Error::InvalidCertificate(_)) => {
            Some("TLS failed: the server's certificate was rejected")
        }
        Some(rustls::Error::AlertReceived(AlertDescription::CertificateRequired)) => {
            Some("TLS failed: the server requires a client certificate")
        }
        Some(rustls::Error::AlertReceived(_)) => {
            Some("TLS failed: the server refused the handshake")
        }
        Some(_) => Some("TLS failed: the handshake failed"),
        // The cluster client keeps its nodes' errors as text only.
        None if says_certificate_rejected(error) => {
            Some("TLS failed: the server's certificate was rejected")
        }
        None if first_exchange && error.is_timeout() => Some(
            "TLS failed: the server did not answer the TLS handshake in time (is it a TLS port?)",
        ),
        None if first_exchange && error.is_connection_dropped() => Some(
            "TLS failed: the server closed the connection during the handshake \
             (does it require a client certificate? is it a TLS port?)",
        ),
        None => None,
    }
}

/// Whether `error`'s text carries rustls's words for a refused certificate
/// (`rustls::Error::InvalidCertificate` displays as "invalid peer
/// certificate: ..."): the redis crate's cluster client reports each node's
/// error as text, without its source.
fn says_certificate_rejected(error: &RedisError) -> bool {
    error.to_string().contains("invalid peer certificate")
}

/// The rustls error in `error`'s chain, if any.
fn rustls_error(error: &RedisError) -> Option<&rustls::Error> {
    let mut next: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(error) = next {
        if let Some(found) = rustls_in(error) {
            return Some(found);
        }
        next = error.source();
    }
    None
}

/// `error` as a rustls error: itself, the payload of an `io::Error` (whose
/// `source` skips its payload), or either behind the `Arc` the redis crate
/// keeps its I/O errors in.
fn rustls_in<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    let error = match error.downcast_ref::<Arc<dyn StdError + Send + Sync>>() {
        Some(shared) => &**shared as &(dyn StdError + 'static),
        None => error,
    };
    if let Some(found) = error.downcast_ref::<rustls::Error>() {
        return Some(found);
    }
    error
        .downcast_ref::<io::Error>()
        .and_then(io::Error::get_ref)
        .and_then(|payload| payload.downcast_ref::<rustls::Error>())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io_error(kind: io::ErrorKind) -> RedisError {
        RedisError::from(io::Error::from(kind))
    }

    #[test]
    fn rustls_errors_in_the_chain_say_why() {
        let rejected = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let error = RedisError::from(io::Error::new(io::ErrorKind::InvalidData, rejected));
        let why = failure(&error, false).unwrap();
        assert!(why.contains("certificate was rejected"), "{why}");

        let alert = rustls::Error::AlertReceived(AlertDescription::CertificateRequired);
        let error = RedisError::from(io::Error::new(io::ErrorKind::InvalidData, alert));
        assert!(failure(&error, true)
            .unwrap()
            .contains("client certificate"));
    }

    #[test]
    fn a_silent_or_closing_server_is_named_only_on_the_first_exchange() {
        let timeout = io_error(io::ErrorKind::WouldBlock);
        assert!(failure(&timeout, true).unwrap().contains("in time"));
        assert_eq!(
            failure(&timeout, false),
            None,
            "a later timeout is no TLS failure"
        );
        let closed = io_error(io::ErrorKind::ConnectionReset);
        assert!(failure(&closed, true)
            .unwrap()
            .contains("closed the connection"));
        assert_eq!(failure(&closed, false), None);
    }
}
