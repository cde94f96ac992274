//! shellsight: finds reverse shells on a network and says which process opened them.
//!
//! The data's path, stage by stage (see README's architecture section):
//! `capture` → `decode` → `flow` → `evidence` → `context` → `verdict` → `join` → `output`,
//! driven by the one `pipeline` that both `replay` and `sensor` use.

pub mod agent;
pub mod capture;
pub mod cli;
pub mod commands;
pub mod config;
pub mod context;
pub mod decode;
pub mod detect;
pub mod error;
pub mod evidence;
pub mod flow;
pub mod inventory;
pub mod join;
pub mod output;
pub mod pipeline;
pub mod report;
pub mod time;
pub mod transport;
pub mod verdict;
