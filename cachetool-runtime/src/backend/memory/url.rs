//! `memory://` and `memory://?capacity=N`: the in-memory backend by URL.

use crate::{Error, Result};

/// The capacity a `memory://` URL sets, if it sets one.
pub(crate) fn capacity_of(url: &str) -> Result<Option<usize>> {
    let rest = url
        .strip_prefix("memory://")
        .ok_or_else(|| Error::config(format!("{url:?} is not a memory:// URL")))?;
    let (place, query) = rest.split_once('?').unwrap_or((rest, ""));
    if !place.is_empty() && place != "/" {
        return Err(Error::config(format!(
            "the memory:// URL {url:?} names a place ({place:?}): the memory backend has none; \
             write memory:// or memory://?capacity=N"
        )));
    }
    let mut capacity = None;
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        match pair.split_once('=') {
            Some(("capacity", value)) => {
                let value: usize = value.parse().map_err(|_| {
                    Error::config(format!(
                        "the capacity in {url:?} must be a whole number of entries, not {value:?}"
                    ))
                })?;
                capacity = Some(value);
            }
            _ => {
                return Err(Error::config(format!(
                    "unknown parameter {pair:?} in {url:?}: memory:// takes only capacity=N"
                )))
            }
        }
    }
    Ok(capacity)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_capacity_and_refuses_anything_else() {
        assert_eq!(capacity_of("memory://").unwrap(), None);
        assert_eq!(capacity_of("memory:///").unwrap(), None);
        assert_eq!(
            capacity_of("memory://?capacity=10000").unwrap(),
            Some(10_000)
        );
        for wrong in [
            "memory://?capacity=ten",
            "memory://?capacity=-1",
            "memory://?size=10",
            "memory://host",
            "memory://?capacity",
        ] {
            let error = capacity_of(wrong).unwrap_err();
            assert_eq!(error.kind(), crate::ErrorKind::Config, "{wrong}");
            assert!(error.to_string().contains(wrong), "{wrong}: {error}");
        }
    }
}
