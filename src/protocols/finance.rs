//! Trading: FIX, the tag=value protocol of order routing. Sessions poll with heartbeats
//! and push market data on their own clock.

use super::{contains, when, On, Protocol, Row, Strength};

pub const FIX: Row = Row {
    ports: &[(9876, 9880)],
    to_server: Some(fix),
    to_client: Some(fix),
    ..super::row(Protocol::Fix, "fix", On::Tcp)
};

/// A FIX message: `8=` (begin string), then `9=` (body length) and `35=` (message
/// type) behind SOH separators.
fn fix(b: &[u8], _wire: u32) -> Option<Strength> {
    let head = &b[..b.len().min(48)];
    when(b.starts_with(b"8=") && contains(head, b"\x019=") && contains(head, b"\x0135="), Strength::Strong)
}
