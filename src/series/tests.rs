use super::*;

fn checkin(at_ms: i64, request: u32, response: u32, port: u16) -> Checkin {
    Checkin {
        at: Timestamp::from_nanos(at_ms * 1_000_000),
        session_id: format!("s{at_ms}"),
        transport: Transport::Tcp,
        client: Endpoint { ip: "10.0.0.5".parse().unwrap(), port: 40_000 + (at_ms % 1000) as u16 },
        server: Endpoint { ip: "203.0.113.9".parse().unwrap(), port },
        start: Timestamp::from_nanos(at_ms * 1_000_000),
        request,
        response,
        held: false,
        closing: false,
        name: None,
        tls: TlsHints::default(),
        protocol: None,
        session_reported: None,
    }
}

/// A jittered clock: `n` check-ins around `every_ms`, within ±`jitter` of it.
fn times(n: usize, every_ms: i64, jitter: f64) -> Vec<i64> {
    let mut x = 0x9e37_79b9u32;
    let mut t = 0;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let f = (x % 2001) as f64 / 1000.0 - 1.0;
            t += every_ms + (every_ms as f64 * jitter * f) as i64;
            t
        })
        .collect()
}

fn facts_of(checkins: &[Checkin]) -> SeriesFacts {
    let mut table = SeriesTable::new(64);
    let mut last = None;
    for c in checkins {
        if let Some((key, s)) = table.add(c) {
            last = Some(s.facts(&key));
        }
    }
    last.expect("judged")
}

#[test]
fn a_jittered_poller_is_a_beacon_and_its_interval_is_measured() {
    let cs: Vec<_> = times(30, 5_000, 0.25).into_iter().map(|t| checkin(t, 310, 180, 80)).collect();
    let f = facts_of(&cs);
    let b = f.beacon.expect("beacon");
    assert!((4.0..6.0).contains(&b.interval_s), "{b:?}");
    assert!(b.jitter <= REGULAR_JITTER && b.jitter > 0.02, "{b:?}");
    assert!(b.request_repeat > 0.9 && b.response_repeat > 0.9);
    assert_eq!(f.operator, None, "an idle poller shows no tasks");
}

#[test]
fn a_person_browsing_is_no_beacon() {
    // Think times of a person: lognormal-ish, spread over an order of magnitude.
    let gaps = [2_100, 45_000, 3_300, 9_800, 1_200, 61_000, 4_400, 17_000, 2_600, 33_000];
    let mut t = 0;
    let cs: Vec<_> = gaps
        .iter()
        .map(|g| {
            t += g;
            checkin(t, 400 + (g % 300) as u32, 9_000 + (g % 5000) as u32, 443)
        })
        .collect();
    assert_eq!(facts_of(&cs).beacon, None);
}

#[test]
fn tasks_in_answers_and_output_in_the_next_request_are_the_operator() {
    let mut cs: Vec<_> = times(20, 5_000, 0.2).into_iter().map(|t| checkin(t, 310, 180, 80)).collect();
    // Three tasks: an answer grows, the next request grows more (the output).
    for (i, (task, output)) in [(40, 120), (60, 900), (35, 70)].into_iter().enumerate() {
        let k = 8 + 3 * i;
        cs[k].response += task;
        cs[k + 1].request += output;
    }
    let f = facts_of(&cs);
    assert!(f.beacon.is_some(), "{f:?}");
    assert_eq!(f.operator.map(|o| o.tasks), Some(3), "{f:?}");
    // A bigger answer followed by an ordinary request is content, not a task.
    let mut cs: Vec<_> = times(20, 5_000, 0.2).into_iter().map(|t| checkin(t, 310, 180, 80)).collect();
    cs[9].response += 400;
    cs[12].response += 300;
    assert_eq!(facts_of(&cs).operator, None);
}

#[test]
fn the_table_stays_bounded_under_one_off_connections() {
    let mut table = SeriesTable::new(100);
    for i in 0..10_000u32 {
        let mut c = checkin(i as i64 * 10, 300, 200, 443);
        c.server.ip = IpAddr::from([198, 51, (i >> 8) as u8, i as u8]);
        table.add(&c);
        assert!(table.len() <= 100);
    }
    assert!(table.stats.evicted >= 9_900);
}

#[test]
fn silent_series_leave_and_a_slow_poller_stays() {
    const MIN: i64 = 60_000;
    const HOUR: i64 = 60 * MIN;
    let mut table = SeriesTable::new(1_000);
    // One-off connections at the start, to as many servers.
    for i in 0..200u32 {
        let mut c = checkin(i as i64, 300, 200, 443);
        c.server.ip = IpAddr::from([198, 51, 100, i as u8]);
        table.add(&c);
    }
    // A series of three check-ins that then stops.
    for t in [0, MIN, 2 * MIN] {
        let mut c = checkin(t, 300, 200, 8443);
        c.server.ip = IpAddr::from([198, 51, 101, 1]);
        table.add(&c);
    }
    assert_eq!(table.len(), 201);
    // A poller every 30 minutes, for two days: its series never falls silent.
    let poller = |t: i64| checkin(t, 300, 200, 443);
    for k in 1..=96 {
        let t = k * 30 * MIN;
        table.add(&poller(t));
        // One-offs leave 6 h after they were seen, the stopped series 24 h after.
        let expected = 1 + if t < 6 * HOUR { 200 } else { 0 } + usize::from(t < 24 * HOUR + 2 * MIN);
        if t != 6 * HOUR {
            assert_eq!(table.len(), expected, "at {} min", t / MIN);
        }
    }
    assert_eq!(table.stats.expired, 201);
    let p = poller(0);
    let key = SeriesKey { transport: Transport::Tcp, client: p.client.ip, server: p.server.ip, port: 443 };
    assert_eq!(table.series[&key].count, 96, "the poller's series kept every check-in");
}
