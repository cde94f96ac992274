//! shellsight: finds reverse shells on a network and says which process opened them.
//!
//! The data's path, stage by stage (see README's architecture section):
//! `capture` → `decode` → `flow` → `evidence` → `context` → `verdict` → `join` → `output`,
//! driven by the one `pipeline` that both `replay` and `sensor` use.

pub mod agent;
pub mod cli;
pub mod commands;
pub mod context;
pub mod error;
pub mod inventory;
pub mod time;
