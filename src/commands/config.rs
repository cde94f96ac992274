//! `shellsight config check FILE`: validate a site policy and warn about exclusions that
//! have expired. Expiry is judged against the wall clock here (this is a CLI check, not
//! detection logic), or against `--at DATE`.

use crate::cli::{ConfigArgs, ConfigCommand};
use crate::config::schedule::from_jiff;
use crate::config::SitePolicy;
use crate::error::{Error, Result};
use crate::time::Timestamp;

pub fn run(args: ConfigArgs) -> Result<()> {
    match args.command {
        ConfigCommand::Check { file, at } => {
            let policy = SitePolicy::load(&file)?;
            let name = file.display();
            let now = match at {
                Some(day) => check_time(&policy, &day)?,
                None => from_jiff(jiff::Timestamp::now()),
            };
            println!(
                "{name}: ok ({} roles, {} exclusions, {} admin ranges)",
                policy.role_count(),
                policy.exclusions().len(),
                policy.admin_ranges().len()
            );
            for e in policy.expired_exclusions(now) {
                eprintln!(
                    "{name}:{}: warning: exclusion[{}] expired on {} and no longer applies ({}; owner {})",
                    e.line, e.index, e.expires, e.reason, e.owner
                );
            }
            Ok(())
        }
    }
}

/// `--at DATE`: the last instant of that day in the site's zone, so an exclusion that
/// expires on DATE still counts as live.
fn check_time(policy: &SitePolicy, day: &str) -> Result<Timestamp> {
    let date: jiff::civil::Date =
        day.parse().map_err(|_| Error::usage(format!("--at: {day:?} is not a date (YYYY-MM-DD)")))?;
    let end = policy.schedule().end_of_day(date);
    Ok(Timestamp::from_nanos(end.as_nanos() - 1))
}
