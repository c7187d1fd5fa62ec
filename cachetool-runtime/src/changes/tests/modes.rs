//! How a test makes its changes: through the blocking calls or the async ones.

use super::*;

/// How a test makes its changes: the blocking calls, or the async ones
/// (which go through the Redis backend's own async connection).
#[derive(Debug, Clone, Copy)]
pub(super) enum Mode {
    Sync,
    #[cfg(feature = "tokio")]
    Async,
}

pub(super) const MODES: &[Mode] = &[
    Mode::Sync,
    #[cfg(feature = "tokio")]
    Mode::Async,
];

impl Mode {
    #[cfg(feature = "tokio")]
    fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(future)
    }

    pub(super) fn store(self, request: Request<'_>) -> u64 {
        match self {
            Mode::Sync => request.get_or_compute(|| 7_u64),
            #[cfg(feature = "tokio")]
            Mode::Async => Mode::block_on(request.get_or_compute_async(async { 7_u64 })),
        }
    }

    pub(super) fn invalidate(self, request: Request<'_>) -> crate::Result<()> {
        match self {
            Mode::Sync => request.invalidate(),
            #[cfg(feature = "tokio")]
            Mode::Async => Mode::block_on(request.invalidate_async()),
        }
    }

    pub(super) fn clean(self, cache: &Cache, tags: &[&str]) -> crate::Result<()> {
        match self {
            Mode::Sync => cache.clean(tags),
            #[cfg(feature = "tokio")]
            Mode::Async => Mode::block_on(cache.clean_async(tags)),
        }
    }

    pub(super) fn clean_all(self, cache: &Cache) -> crate::Result<()> {
        match self {
            Mode::Sync => cache.clean_all(),
            #[cfg(feature = "tokio")]
            Mode::Async => Mode::block_on(cache.clean_all_async()),
        }
    }

    pub(super) fn replace_if_many(
        self,
        backend: &dyn Backend,
        writes: Vec<ReplaceIf<'_>>,
    ) -> Vec<crate::Result<bool>> {
        match (self, backend.as_async()) {
            #[cfg(feature = "tokio")]
            (Mode::Async, Some(backend)) => Mode::block_on(backend.replace_if_many(writes)),
            _ => backend.replace_if_many(writes),
        }
    }
}
