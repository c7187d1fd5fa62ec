//! ui cases of `#[cached]` built without the `tokio` feature.
