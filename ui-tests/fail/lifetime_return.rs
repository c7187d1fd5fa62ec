use std::borrow::Cow;

use cachetool::cached;

#[cached]
fn trimmed<'a>(text: &'a str) -> Cow<'a, str> {
    Cow::Borrowed(text.trim())
}

fn main() {
    trimmed(" a ");
}
