//! Splitting a batch of records into messages that each fit a size limit.
//!
//! The agent channel and the bus carry inventories in messages with a hard size limit
//! (the channel's frame limit, the NATS server's payload limit). Record sizes vary by
//! host: a record carries its process's argv and its ancestors', and a Java service or a
//! CI runner can have command lines of many kilobytes. So batches are cut by encoded
//! size, not only by record count: a run that encodes too large is halved until it fits,
//! and a single record that alone is over the limit is left out and counted, never
//! allowed to stall the link that carries all the others.

use std::io;
use std::ops::Range;

/// Encoded messages, in order, plus how many records were left out as too large.
#[derive(Debug, Default)]
pub struct Parts {
    /// Each message's body, with the items it holds (an index range of the batch).
    pub runs: Vec<(Range<usize>, Vec<u8>)>,
    pub left_out: usize,
}

impl Parts {
    pub fn bodies(&self) -> impl Iterator<Item = &[u8]> {
        self.runs.iter().map(|(_, body)| body.as_slice())
    }
}

/// Encodes `items` in consecutive runs of at most `per_run` items, each body at most
/// `limit` bytes. `encode(run, last)` is told whether the run ends the batch; there is
/// always exactly one such run (an empty one when the batch is empty, or when its last
/// record was left out), so a receiver that waits for the end of a batch sees it.
pub fn split_to_fit<T>(
    items: &[T],
    per_run: usize,
    limit: usize,
    mut encode: impl FnMut(&[T], bool) -> io::Result<Vec<u8>>,
) -> io::Result<Parts> {
    let mut parts = Parts::default();
    let per_run = per_run.max(1);
    if items.is_empty() {
        parts.runs.push((0..0, encode(&[], true)?));
        return Ok(parts);
    }
    let mut start = 0;
    while start < items.len() {
        let end = (start + per_run).min(items.len());
        fit(items, start..end, end == items.len(), limit, &mut encode, &mut parts)?;
        start = end;
    }
    Ok(parts)
}

fn fit<T>(
    items: &[T],
    run: Range<usize>,
    last: bool,
    limit: usize,
    encode: &mut impl FnMut(&[T], bool) -> io::Result<Vec<u8>>,
    parts: &mut Parts,
) -> io::Result<()> {
    let body = encode(&items[run.clone()], last)?;
    if body.len() <= limit {
        parts.runs.push((run, body));
        return Ok(());
    }
    if run.len() == 1 {
        parts.left_out += 1;
        if last {
            parts.runs.push((run.end..run.end, encode(&[], true)?));
        }
        return Ok(());
    }
    let mid = run.start + run.len() / 2;
    fit(items, run.start..mid, false, limit, encode, parts)?;
    fit(items, mid..run.end, last, limit, encode, parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A body lists the run's items and ends in `!` when it ends the batch.
    fn encode(run: &[String], last: bool) -> io::Result<Vec<u8>> {
        let mut s = run.join(",");
        if last {
            s.push('!');
        }
        Ok(s.into_bytes())
    }

    fn items(sizes: &[usize]) -> Vec<String> {
        sizes.iter().enumerate().map(|(i, &n)| format!("{i}{}", "x".repeat(n))).collect()
    }

    fn decoded(p: &Parts) -> Vec<String> {
        p.bodies().map(|b| String::from_utf8(b.to_vec()).unwrap()).collect()
    }

    #[test]
    fn small_items_go_in_runs_of_the_given_count() {
        let p = split_to_fit(&items(&[0; 5]), 2, 100, encode).unwrap();
        assert_eq!(decoded(&p), ["0,1", "2,3", "4!"]);
        assert_eq!(p.left_out, 0);
    }

    #[test]
    fn a_run_over_the_limit_is_halved_until_it_fits_and_keeps_its_order() {
        let p = split_to_fit(&items(&[10, 10, 10, 10]), 4, 25, encode).unwrap();
        assert!(p.bodies().all(|b| b.len() <= 25), "{:?}", decoded(&p));
        let ranges: Vec<_> = p.runs.iter().map(|(r, _)| r.clone()).collect();
        assert_eq!(ranges.first().unwrap().start, 0);
        assert!(ranges.windows(2).all(|w| w[0].end == w[1].start), "{ranges:?}");
        assert_eq!(ranges.last().unwrap().end, 4);
        let all: Vec<String> =
            decoded(&p).join(",").replace('!', "").split(',').map(str::to_string).collect();
        assert_eq!(all, items(&[10, 10, 10, 10]));
        assert!(decoded(&p).last().unwrap().ends_with('!'));
        assert_eq!(decoded(&p).iter().filter(|b| b.ends_with('!')).count(), 1);
    }

    #[test]
    fn an_item_over_the_limit_alone_is_left_out_and_the_batch_still_ends() {
        let p = split_to_fit(&items(&[1, 1, 50]), 8, 20, encode).unwrap();
        assert_eq!(p.left_out, 1);
        assert_eq!(decoded(&p), ["0x", "1x", "!"]);
        let p = split_to_fit(&items(&[50, 1]), 8, 20, encode).unwrap();
        assert_eq!((p.left_out, decoded(&p)), (1, vec!["1x!".to_string()]));
    }

    #[test]
    fn an_empty_batch_is_one_final_empty_part() {
        let p = split_to_fit(&[] as &[String], 8, 20, encode).unwrap();
        assert_eq!(decoded(&p), ["!"]);
    }
}
