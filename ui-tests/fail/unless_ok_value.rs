// On a `Result`, `unless` sees the `Ok` value, not the `Result`.
use cachetool::cached;

#[cached(unless = |value| value.is_err())]
fn parse(text: &str) -> Result<u32, std::num::ParseIntError> {
    text.parse()
}

fn main() {
    let _ = parse("1");
}
