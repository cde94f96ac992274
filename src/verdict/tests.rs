use super::*;
use crate::config::Role;
use crate::context::AsnClass;

fn net(points: i32, service_port: Option<&'static str>) -> NetworkFindings {
    NetworkFindings { service_port, ..NetworkFindings::bare(points, Reason::ReverseInteractive) }
}

fn judge(
    n: &NetworkFindings,
    ctx: &ContextFacts,
    p: Option<&ProcessFacts>,
    h: Option<&HistoryFacts>,
) -> Verdict {
    decide(&Facts {
        network: n,
        context: ctx,
        process: p,
        history: h,
        injection: None,
        inside: None,
        series: None,
    })
}

fn with(n: &NetworkFindings, ctx: &ContextFacts, p: Option<&ProcessFacts>) -> Verdict {
    judge(n, ctx, p, None)
}

#[test]
fn tier_boundaries() {
    let ctx = ContextFacts::default();
    let tier = |p| with(&net(p, None), &ctx, None).tier;
    assert_eq!(tier(LOW_SCORE - 1), None);
    assert_eq!(tier(LOW_SCORE), Some(Tier::Low));
    assert_eq!(tier(MEDIUM_SCORE), Some(Tier::Medium));
    assert_eq!(tier(HIGH_SCORE), Some(Tier::High));
    assert_eq!(Tier::High.severity(), 73);
}

#[test]
fn remote_network_class_moves_the_score() {
    let n = net(40, None);
    let base = with(&n, &ContextFacts::default(), None).score;
    let res =
        with(&n, &ContextFacts { remote_class: Some(AsnClass::Residential), ..Default::default() }, None);
    let cloud = with(
        &n,
        &ContextFacts {
            remote_class: Some(AsnClass::Hosting),
            remote_on_service_port: true,
            ..Default::default()
        },
        None,
    );
    assert!(res.score > base && cloud.score < base);
    assert!(res.tier > cloud.tier);
    assert!(res.reasons.contains(&Reason::ResidentialAsn));
}

#[test]
fn an_ordinary_session_on_its_service_port_stays_below_medium() {
    let ctx =
        ContextFacts { remote_class: Some(AsnClass::Residential), off_hours: true, ..Default::default() };
    let v = with(&net(80, Some("telnet")), &ctx, None);
    assert!(v.tier <= Some(Tier::Low), "{v:?}");
}

#[test]
fn turn_taking_alone_over_udp_stays_below_medium() {
    let ctx = ContextFacts { remote_class: Some(AsnClass::Residential), ..Default::default() };
    let n = NetworkFindings { needs_more: true, ..net(60, None) };
    let v = with(&n, &ctx, None);
    assert_eq!(v.tier, Some(Tier::Low), "{v:?}");
    // A shell wired to the socket still says what it is.
    let p = ProcessFacts {
        shell_or_interpreter: Some("bash".into()),
        stdio_on_socket: true,
        ..Default::default()
    };
    assert_eq!(with(&n, &ctx, Some(&p)).tier, Some(Tier::High));
}

#[test]
fn a_shell_under_an_exposed_service_is_high_whatever_the_network_says() {
    let p = ProcessFacts {
        shell_or_interpreter: Some("bash".into()),
        exposed_ancestor: Some("php-fpm8.2".into()),
        ..Default::default()
    };
    let v = with(&net(5, None), &ContextFacts::default(), Some(&p));
    assert_eq!(v.tier, Some(Tier::High));
    assert!(v.reasons.contains(&Reason::ExposedServiceParent("php-fpm8.2".into())));
}

#[test]
fn a_shell_on_a_server_is_at_least_medium_and_automation_lowers() {
    let ctx = ContextFacts { shell_host_role: Some(Role::Server), ..Default::default() };
    let p = ProcessFacts { shell_or_interpreter: Some("sh".into()), ..Default::default() };
    assert_eq!(with(&net(10, None), &ctx, Some(&p)).tier, Some(Tier::Medium));
    let backup = ProcessFacts { trusted_automation: Some("restic".into()), ..Default::default() };
    let v = with(&net(50, None), &ContextFacts::default(), Some(&backup));
    assert!(v.tier < Some(Tier::Medium), "{v:?}");
}

#[test]
fn a_shell_on_a_pty_of_the_socket_is_high_unless_a_login_daemon_drives_it() {
    let mut p = ProcessFacts {
        shell_or_interpreter: Some("sh".into()),
        stdio_pty_of_socket: true,
        pty_driver: Some("python3".into()),
        ..Default::default()
    };
    let v = with(&net(10, None), &ContextFacts::default(), Some(&p));
    assert_eq!(v.tier, Some(Tier::High));
    assert!(v.reasons.contains(&Reason::StdioPtyOfSocket));
    p.pty_driver = Some("sshd".into());
    let v = with(&net(10, None), &ContextFacts::default(), Some(&p));
    assert!(v.tier < Some(Tier::Medium), "{v:?}");
    p.pty_driver = Some("python3".into());
    let v = with(&net(80, Some("ssh")), &ContextFacts::default(), Some(&p));
    assert!(v.tier < Some(Tier::Medium), "an ssh session on its port stays capped: {v:?}");
}

#[test]
fn admin_ranges_lower_the_score() {
    let v = with(&net(60, None), &ContextFacts { remote_is_admin: true, ..Default::default() }, None);
    assert_eq!(v.tier, Some(Tier::Low));
    assert!(v.reasons.contains(&Reason::AdminRange));
}

#[test]
fn history_raises_the_new_and_lowers_the_familiar() {
    let n = net(30, None);
    let ctx = ContextFacts::default();
    let base = judge(&n, &ctx, None, None);
    let familiar =
        HistoryFacts { peer_sessions: 47, peer_days: 12, peer_idle_days: Some(0), ..Default::default() };
    let v = judge(&n, &ctx, None, Some(&familiar));
    assert!(v.score < base.score && v.reasons.contains(&Reason::SeenBefore(47)));
    let new = HistoryFacts {
        established: true,
        new_grain: Some("asn:7922".into()),
        internal_only_host: true,
        long_interactive_outside: true,
        ..Default::default()
    };
    let v = judge(&n, &ctx, None, Some(&new));
    assert_eq!(v.score, base.score + 25);
    assert!(v.reasons.contains(&Reason::FirstSeen("asn:7922".into())));
    assert!(v.reasons.contains(&Reason::InternalOnlyHost));
    let dormant = HistoryFacts { peer_sessions: 3, peer_idle_days: Some(90), ..Default::default() };
    assert!(judge(&n, &ctx, None, Some(&dormant)).score > base.score);
    // No history: nothing moves.
    assert_eq!(judge(&n, &ctx, None, Some(&HistoryFacts::default())), base);
}

#[test]
fn history_never_lowers_below_a_process_floor() {
    let p = ProcessFacts {
        shell_or_interpreter: Some("bash".into()),
        exposed_ancestor: Some("nginx".into()),
        ..Default::default()
    };
    let familiar =
        HistoryFacts { peer_sessions: 400, peer_days: 90, peer_idle_days: Some(0), ..Default::default() };
    let v = judge(&net(5, None), &ContextFacts::default(), Some(&p), Some(&familiar));
    assert_eq!(v.tier, Some(Tier::High));
}
