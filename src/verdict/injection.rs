//! Command injection and its callback: a request to a server carrying a reverse-shell
//! one-liner that names an address and port, and the session the server then opens to
//! that end. The request is reported (low: an attempt, named in the callback's alert);
//! the callback is the attack working.

use super::reason::Reason;
use super::Weight;
use crate::evidence::injection::Lead;
use std::sync::Arc;

/// Which end of an injection a session is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Injection {
    /// The request that carried the payload (the attacker to the target).
    Request(Arc<Lead>),
    /// The session the target opened to the end the payload named.
    Callback(Arc<Lead>),
}

impl Injection {
    pub fn lead(&self) -> &Lead {
        match self {
            Injection::Request(l) | Injection::Callback(l) => l,
        }
    }
}

pub(super) fn weigh(i: &Injection, w: &mut Weight) {
    match i {
        Injection::Request(_) => w.add(Reason::InjectionPayload, 25),
        Injection::Callback(_) => w.add(Reason::InjectionCallback, 50),
    }
}
