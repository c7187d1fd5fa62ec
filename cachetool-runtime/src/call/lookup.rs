//! The hit decision with a remote backend: one read of the entry, the epoch
//! and the tags, and what the values read mean.

use super::outcome::{Found, Keys, Miss, Values};
use super::Request;
use crate::__private::Cacheable;
use crate::backend::Value;
use crate::codec;
use crate::driver::Driver;
use crate::handover::{Versions, View};
use crate::near::NearStart;
use crate::{Error, ErrorKind, Result};

impl Request<'_> {
    /// The epoch's key, then each tag's.
    pub(crate) fn version_keys(&self) -> Keys<'_> {
        let mut keys = Keys::new();
        keys.push(self.inner().namespace.epoch_key());
        keys.extend(self.tag_keys.iter());
        keys
    }

    /// One read of the entry and every version it depends on.
    pub(crate) async fn lookup<D: Driver, T: Cacheable>(&self, driver: &D) -> Found<T> {
        if let Some(local) = self.local() {
            return self.local_lookup(local).into();
        }
        if self.unkeyable.is_some() {
            return Found::Uncacheable;
        }
        let keys = self.lookup_keys();
        let near = self.near_start();
        let values = driver.get_many(&self.inner().backend, &keys).await;
        self.found_filling(keys.len(), values.as_deref(), near)
    }

    /// [`lookup`](Request::lookup), for a caller that blocks on the backend.
    #[inline]
    pub(crate) fn lookup_now<T: Cacheable>(&self) -> Found<T> {
        if let Some(local) = self.local() {
            return self.local_lookup(local).into();
        }
        if self.unkeyable.is_some() {
            return Found::Uncacheable;
        }
        let keys = self.lookup_keys();
        let near = self.near_start();
        let mut values = Values::new();
        let read = (self.inner().backend).read_each(&keys, &mut |value| values.push(value));
        self.found_filling(keys.len(), read.as_ref().map(|()| &values[..]), near)
    }

    /// The entry's key, then the epoch's and each tag's.
    pub(crate) fn lookup_keys(&self) -> Keys<'_> {
        let mut keys = Keys::new();
        keys.push(self.entry_key.as_str());
        keys.extend(self.version_keys());
        keys
    }

    /// What the values read for `lookup_keys` (`asked` of them) mean.
    /// (Borrowed, not moved: the values are a few hundred bytes on the stack.)
    pub(crate) fn found<T: Cacheable>(
        &self,
        asked: usize,
        values: Result<&[Option<Value>], &Error>,
    ) -> Found<T> {
        self.found_filling(asked, values, None)
    }

    /// [`found`](Request::found), and a hit fills the near tier, with the
    /// versions `near` read before the values were.
    pub(crate) fn found_filling<T: Cacheable>(
        &self,
        asked: usize,
        values: Result<&[Option<Value>], &Error>,
        near: Option<Box<NearStart>>,
    ) -> Found<T> {
        let inner = self.inner();
        let (seen, versions) = match values {
            Ok([seen, versions @ ..]) if versions.len() + 1 == asked => (seen, versions),
            Ok(values) => {
                let error = wrong_count(inner.backend.name(), asked, values.len());
                return self.failed_lookup(&error);
            }
            Err(error) => return self.failed_lookup(error),
        };
        let versions = versions_of(versions);
        if let (Some(entry), Some(versions)) = (seen, &versions) {
            let value = match near {
                None => self.fresh_value::<T>(entry, versions),
                Some(start) => self.fresh_value_filling::<T>(entry, versions, &start),
            };
            if let Some(value) = value {
                self.count_hit();
                return Found::Hit(value);
            }
        }
        self.count_miss();
        let view = View {
            entry: seen.clone(),
            versions: versions.clone(),
        };
        Found::Miss(Miss {
            versions,
            seen: seen.clone(),
            view: Some(view),
        })
    }

    pub(crate) fn failed_lookup<T>(&self, error: &Error) -> Found<T> {
        self.backend_failed("get", &self.entry_key, error);
        self.count_miss();
        Found::Uncacheable
    }
}

/// The version in each value, if every version exists. (A loop: collecting
/// into an `Option` costs more on the hit path.)
pub(crate) fn versions_of(values: &[Option<Value>]) -> Option<Versions> {
    let mut versions = Versions::new();
    for value in values {
        versions.push(codec::version_of(value.as_ref()?));
    }
    Some(versions)
}

pub(crate) fn wrong_count(backend: &str, asked: usize, got: usize) -> Error {
    Error::new(
        ErrorKind::Backend,
        format!("the {backend} backend returned {got} values for {asked} keys"),
    )
}
