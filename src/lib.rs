//! shellsight: finds reverse shells on a network and says which process opened them.
//!
//! The data's path, stage by stage (see README's architecture section):
//! `capture` → `decode` → `flow` → `evidence` → `context` → `verdict` → `join` → `output`,
//! driven by the one `pipeline` that both `replay` and `sensor` use.

pub mod agent;
pub mod baseline;
pub mod batch;
pub mod bus;
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
pub mod fuzz_targets;
pub mod inventory;
pub mod join;
pub mod names;
pub mod output;
pub mod pipeline;
pub mod protocols;
pub mod report;
pub mod report_html;
pub mod series;
pub mod sources;
pub mod time;
pub mod transport;
pub mod verdict;
