//! A small HTTP service on axum whose user handler is a cached `async fn`;
//! updating a user cleans the `user:{id}` tag, so the next read is fresh. The
//! cache's metrics are served at `/metrics` in Prometheus's text format.
//!
//! ```text
//! cargo run --example axum --features tokio,metrics
//! curl http://127.0.0.1:3000/users/7            # slow the first time, cached after
//! curl -X POST http://127.0.0.1:3000/users/7 -d 'Ada Lovelace'
//! curl http://127.0.0.1:3000/users/7            # the new name
//! curl http://127.0.0.1:3000/stats
//! curl http://127.0.0.1:3000/metrics            # cachetool_hits_total{function="axum.load_user",cache="cachetool"} 1 ...
//! ```

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{LazyLock, Mutex, OnceLock};
use std::time::Duration;

use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use cachetool::cached;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde::{Deserialize, Serialize};

#[derive(Clone, Serialize, Deserialize)]
struct User {
    id: u64,
    name: String,
}

/// Stands in for a database: users 1 to 100 exist.
struct Database {
    names: Mutex<HashMap<u64, String>>,
    reads: AtomicUsize,
}

static DATABASE: LazyLock<Database> = LazyLock::new(|| Database {
    names: Mutex::new((1..=100).map(|id| (id, format!("user {id}"))).collect()),
    reads: AtomicUsize::new(0),
});

/// A slow read, cached for ten minutes or until `user:{id}` is cleaned.
#[cached(tags = ["users", format!("user:{id}")], ttl = 600)]
async fn load_user(id: u64) -> Option<User> {
    DATABASE.reads.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let name = DATABASE.names.lock().unwrap().get(&id).cloned()?;
    Some(User { id, name })
}

async fn get_user(Path(id): Path<u64>) -> Result<String, StatusCode> {
    let user = load_user(id).await.ok_or(StatusCode::NOT_FOUND)?;
    Ok(format!("{} {}", user.id, user.name))
}

async fn update_user(Path(id): Path<u64>, name: String) -> StatusCode {
    DATABASE.names.lock().unwrap().insert(id, name);
    // Every cached entry about this user, in every function and process.
    match cachetool::global()
        .clean_async(&[format!("user:{id}")])
        .await
    {
        Ok(()) => StatusCode::NO_CONTENT,
        Err(error) => {
            tracing::error!(%error, "could not clean the cache");
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}

async fn stats() -> String {
    let stats = cachetool::global().stats();
    let reads = DATABASE.reads.load(Ordering::SeqCst);
    format!(
        "database_reads={reads} hits={} misses={}",
        stats.hits, stats.misses
    )
}

/// The Prometheus recorder, installed as the `metrics` crate's global
/// recorder on first use: before the first cached call, since each function
/// registers its counters with the recorder of that moment.
fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        PrometheusBuilder::new()
            .install_recorder()
            .expect("no other metrics recorder is installed")
    })
}

/// `cachetool_hits_total`, `cachetool_load_seconds`... of every cached function.
async fn metrics() -> String {
    prometheus().render()
}

/// The service's routes.
pub fn app() -> Router {
    prometheus();
    Router::new()
        .route("/users/{id}", get(get_user).post(update_user))
        .route("/stats", get(stats))
        .route("/metrics", get(metrics))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app()).await
}
