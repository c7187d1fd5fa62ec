//! An `async fn` needs the `tokio` feature: one error, at `async`, for the
//! function and its companions.
use cachetool::cached;

#[cached(ttl = 60)]
async fn user(id: u64) -> String {
    format!("user {id}")
}

async fn caller() -> cachetool::Result<String> {
    user_invalidate(7).await?;
    Ok(user_refresh(7).await + &user(7).await)
}

fn main() {
    let _ = caller();
}
