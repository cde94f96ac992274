#!/usr/bin/env bash
# Agent scan cost against `ss -tanp`, on ~1,000 processes holding ~10,000 loopback TCP
# sockets (PROCS children x CONNS connections, plus the listener's accepted ends).
#
#   bash benches/agent_scan.sh            # PROCS=1000 CONNS=5 -> 10,000 sockets
#   PROCS=200 CONNS=5 bash benches/agent_scan.sh
#
# Prints: ss -tanp, agent --once (full scan), the agent's own full vs incremental
# refresh times (from its debug log), CPU share at a 1 s interval over ~20 s, peak RSS,
# and, for the sock_diag vs /proc choice, `ss -tan` (netlink dump only) vs reading the
# /proc/net tables. Cleans up every process it started.
set -euo pipefail
cd "$(dirname "$0")/.."
PROCS=${PROCS:-1000}
CONNS=${CONNS:-5}
RUNS=${RUNS:-9}
CPU_SECS=${CPU_SECS:-20}
ulimit -n "$(ulimit -Hn)"
cargo build --release --quiet
BIN=$PWD/target/release/shellsight
WORK=$(mktemp -d /tmp/ssag-bench.XXXXXX)
LOADPID=""
AGENTPID=""
cleanup() {
  [ -n "$AGENTPID" ] && kill "$AGENTPID" 2>/dev/null || true
  [ -n "$LOADPID" ] && kill -KILL -- "-$LOADPID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

setsid python3 benches/agent_scan_load.py "$PROCS" "$CONNS" > "$WORK/load.out" 2>&1 &
LOADPID=$!
for _ in $(seq 600); do grep -q -e READY -e ONLY "$WORK/load.out" 2>/dev/null && break; sleep 0.2; done
grep -q READY "$WORK/load.out" || { echo "load did not come up: $(cat "$WORK/load.out")"; exit 1; }
echo "load: $(ls /proc | grep -c '^[0-9]') processes, $(ss -tan | wc -l) TCP sockets (ss -tan lines)"

# Median wall time (ms) of a command over RUNS runs.
median_ms() {
  local t=()
  for _ in $(seq "$RUNS"); do
    local s e
    s=$(date +%s%N); "$@" > /dev/null 2>&1; e=$(date +%s%N)
    t+=($(( (e - s) / 1000000 )))
  done
  printf '%s\n' "${t[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p"
}
read_tables() { cat /proc/net/tcp /proc/net/tcp6 /proc/net/udp /proc/net/udp6; }

# One warm-up run of each (dentry caches), then interleaved timed runs.
ss -tanp > /dev/null; "$BIN" agent --once > /dev/null
SS_T=(); AG_T=()
for _ in $(seq "$RUNS"); do
  SS_T+=("$(RUNS=1 median_ms ss -tanp)")
  AG_T+=("$(RUNS=1 median_ms "$BIN" agent --once)")
done
med() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }
SS_P=$(med "${SS_T[@]}")
AG_ONCE=$(med "${AG_T[@]}")
echo "runs (ms): ss -tanp ${SS_T[*]}; agent --once ${AG_T[*]}"
# CPU time (user+sys, ms), less sensitive than wall time to other load on the machine.
cpu_ms() { /usr/bin/time -f '%U %S' "$@" 2>&1 >/dev/null | tail -1 | awk '{printf "%d", ($1 + $2) * 1000}'; }
SS_C=(); AG_C=()
for _ in $(seq "$RUNS"); do SS_C+=("$(cpu_ms ss -tanp)"); AG_C+=("$(cpu_ms "$BIN" agent --once)"); done
echo "cpu (user+sys, ms): ss -tanp median $(med "${SS_C[@]}"); agent --once median $(med "${AG_C[@]}")"
SS_N=$(median_ms ss -tan)
PROC_N=$(median_ms read_tables)
echo "ss -tanp > /dev/null:                 ${SS_P} ms (median of $RUNS)"
echo "shellsight agent --once > /dev/null:  ${AG_ONCE} ms (median of $RUNS)"
echo "sock_diag dump (ss -tan):             ${SS_N} ms; /proc/net/{tcp,tcp6,udp,udp6} read: ${PROC_N} ms"
echo "kernel side only (TCP v4+v6, benches/sockdiag_dump.py): $(python3 benches/sockdiag_dump.py "$RUNS" | tr '\n' ';')"

# Peak memory of a full scan.
/usr/bin/time -v "$BIN" agent --once > /dev/null 2> "$WORK/time.txt"
RSS=$(awk -F': ' '/Maximum resident/ {print $2}' "$WORK/time.txt")
echo "agent --once peak RSS:                ${RSS} kB"

# Interval mode: refresh times from the debug log, CPU share over CPU_SECS.
SHELLSIGHT_LOG=debug "$BIN" agent --interval 1s --duration "$((CPU_SECS + 5))" --output /dev/null 2> "$WORK/agent.log" &
AGENTPID=$!
sleep 1
T0=$(awk '{print $14 + $15}' "/proc/$AGENTPID/stat")
S0=$(date +%s%N)
sleep "$CPU_SECS"
T1=$(awk '{print $14 + $15}' "/proc/$AGENTPID/stat")
S1=$(date +%s%N)
TICKS=$(getconf CLK_TCK)
RSS_I=$(awk '/VmHWM/ {print $2}' "/proc/$AGENTPID/status")
kill -INT "$AGENTPID" 2>/dev/null || true
wait "$AGENTPID" || true
AGENTPID=""
sed -i 's/\x1b\[[0-9;]*m//g' "$WORK/agent.log"
FULL_US=$(grep 'refresh done' "$WORK/agent.log" | grep 'full=true' | head -1 | sed 's/.*elapsed_us=\([0-9]*\).*/\1/')
INCR_US=$(grep 'refresh done' "$WORK/agent.log" | grep 'full=false' | sed 's/.*elapsed_us=\([0-9]*\).*/\1/' | sort -n)
N_INCR=$(echo "$INCR_US" | grep -c . || true)
INCR_MED=$(echo "$INCR_US" | sed -n "$(( (N_INCR + 1) / 2 ))p")
CPU_PCT=$(awk -v dt="$((T1 - T0))" -v hz="$TICKS" -v ns="$((S1 - S0))" 'BEGIN {printf "%.2f", 100 * dt / hz / (ns / 1e9)}')
READS=$(grep 'refresh done' "$WORK/agent.log" | grep 'full=false' | grep -vc 'tables_read=0' || true)
INCR_READ=$(grep 'refresh done' "$WORK/agent.log" | grep 'full=false' | grep -v 'tables_read=0' | sed 's/.*elapsed_us=\([0-9]*\).*/\1/' | sort -n | sed -n '1~1p' | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
echo "interval 1s: incremental refreshes that re-read the socket tables (forced every 5th): ${READS}, median ${INCR_READ} us"
echo "interval 1s: first (full) refresh ${FULL_US} us, incremental median ${INCR_MED} us over ${N_INCR} refreshes"
echo "interval 1s: CPU share over ${CPU_SECS}s: ${CPU_PCT} % of one core; peak RSS ${RSS_I} kB"
awk -v a="$AG_ONCE" -v b="$SS_P" -v f="$FULL_US" -v i="$INCR_MED" 'BEGIN {
  printf "ratios: agent --once / ss -tanp = %.2f; incremental / full refresh = %.3f\n", a / b, i / f }'
