//! `{name}_peek(args)`: the stored value of one call, if it is current,
//! without running the function or waiting for a run. One read of the entry
//! and its versions (one round trip on Redis and Memcached), counted neither
//! as a hit nor as a miss.

use super::Request;
use super::{versions_of, wrong_count};
use crate::__private::Cacheable;
use crate::backend::Value;
use crate::codec;
use crate::driver::{run_blocking, Blocking, Driver};
use crate::Result;

impl Request<'_> {
    /// The stored value, if there is a current one.
    pub fn peek<T: Cacheable>(self) -> Option<T> {
        run_blocking(self.peek_with(&Blocking))
    }

    /// The same, awaiting the backend.
    #[cfg(feature = "tokio")]
    pub async fn peek_async<T: Cacheable>(self) -> Option<T> {
        self.peek_with(&crate::driver::Tokio).await
    }

    async fn peek_with<D: Driver, T: Cacheable>(self, driver: &D) -> Option<T> {
        if let Some(local) = self.local() {
            // Its TTL runs on past a refresh point (`refresh_ahead`), as a
            // remote entry's "fresh until" does.
            return local.peek_unexpired_value(self.call?);
        }
        if self.unkeyable.is_some() {
            return None;
        }
        let keys = self.lookup_keys();
        let values = driver.get_many(&self.inner().backend, &keys).await;
        self.peeked(keys.len(), values)
    }

    /// The value in what was read for `lookup_keys` (`asked` of them), if it
    /// is of type `T` and computed under the current versions.
    fn peeked<T: Cacheable>(&self, asked: usize, values: Result<Vec<Option<Value>>>) -> Option<T> {
        let values = match values {
            Ok(values) if values.len() == asked => values,
            Ok(values) => {
                let error = wrong_count(self.inner().backend.name(), asked, values.len());
                self.backend_failed("peek", &self.entry_key, &error);
                return None;
            }
            Err(error) => {
                self.backend_failed("peek", &self.entry_key, &error);
                return None;
            }
        };
        let (entry, versions) = values.split_first()?;
        let versions = versions_of(versions)?;
        codec::decode(entry.as_ref()?, &versions)
    }
}
