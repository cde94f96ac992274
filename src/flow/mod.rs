//! TCP sessions: canonical keys, the bounded session table, and Community ID.

pub mod community_id;
pub mod key;
pub mod record;
pub mod table;
