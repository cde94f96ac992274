//! Webshells: a command typed into a request and its output in that request's own answer,
//! or a known family's markers on both sides of one exchange. One such exchange driven from
//! outside the home networks is high; from inside, medium until more commands come back.
//! Admin ranges and the site's exclusions lower it as for any shell.

use super::context::ContextFacts;
use super::reason::Reason;
use super::Weight;
use crate::evidence::inside::webshell::WebFacts;

/// A command answered with output only a command prints (`uid=…`, a listing, `ps`).
const STRONG_PAIR: i32 = 55;
/// A command answered with a one-word answer of its shape (`whoami` → a user name).
const WEAK_PAIR: i32 = 45;
/// Markers of one family in a request and in its answer.
const FAMILY: i32 = 55;
/// More distinct commands answered in the same session.
const MORE_COMMANDS: i32 = 10;
/// The client driving it is outside the home networks.
const FROM_OUTSIDE: i32 = 15;

pub(super) fn weigh(web: &WebFacts, ctx: &ContextFacts, w: &mut Weight) {
    let family = web.family();
    let headline = web
        .exchanges
        .iter()
        .filter(|e| e.output.is_some())
        .find(|e| e.strong())
        .or_else(|| web.exchanges.iter().find(|e| e.output.is_some()));
    let mut driven = false;
    if let Some(kind) = headline.and_then(|e| e.output) {
        w.add(Reason::WebshellOutput(kind.as_str()), if web.strong > 0 { STRONG_PAIR } else { WEAK_PAIR });
        driven = true;
        if web.distinct_commands >= 2 {
            w.add(Reason::WebshellCommands(web.distinct_commands), MORE_COMMANDS);
        }
    }
    if let Some(f) = family {
        w.add(Reason::WebshellFamily(f), if driven { MORE_COMMANDS } else { FAMILY });
        driven = true;
    }
    // An approved admin range outside the home networks is still ours.
    if driven && ctx.remote_outside_home && !ctx.remote_is_admin {
        w.add(Reason::FromOutsideHome, FROM_OUTSIDE);
    }
}
