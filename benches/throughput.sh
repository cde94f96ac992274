#!/usr/bin/env bash
# Times raw libpcap reading (tcpdump) against `shellsight replay` on the same capture, in
# the same run, so the figures are ratios that survive a noisy machine.
#
#   benches/throughput.sh FILE [THREADS...]      e.g. benches/throughput.sh big.pcap 1 2
#   BASELINE=1 benches/throughput.sh FILE 1      also with a host history (`--baseline`),
#                                                 learned from FILE first (not timed)
#
# Each command runs 3 times; the best elapsed time counts. Peak RSS comes from
# /usr/bin/time -v ("Maximum resident set size"). SHELLSIGHT=path overrides the binary.
set -euo pipefail
file=${1:?usage: throughput.sh FILE [THREADS...]}
shift
threads=("$@")
[ ${#threads[@]} -eq 0 ] && threads=(1)
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${SHELLSIGHT:-$here/target/release/shellsight}
runs=${RUNS:-3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

packets=$("$bin" replay "$file" --format json -o /dev/null 2>&1 | sed -n 's/^packets *\([0-9]*\).*/\1/p')
[ -n "$packets" ] || { echo "could not count packets in $file" >&2; exit 1; }

# best_of NAME CMD...: prints "seconds rss_kb" of the fastest run.
best_of() {
  local name=$1; shift
  local best="" rss=""
  for i in $(seq "$runs"); do
    local t0 t1 e r
    t0=$(date +%s%N)
    /usr/bin/time -v -o "$tmp/$name.$i" "$@" >/dev/null 2>"$tmp/$name.err.$i"
    t1=$(date +%s%N)
    e=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", (b-a)/1e9}')
    r=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tmp/$name.$i")
    if [ -z "$best" ] || awk -v a="$e" -v b="$best" 'BEGIN{exit !(a<b)}'; then best=$e; rss=$r; fi
  done
  echo "$best $rss"
}

echo "file     $file ($packets packets, $(du -h "$file" | cut -f1))"
read -r t_ref rss_ref < <(best_of tcpdump tcpdump -nn -r "$file" -w /dev/null)
printf '%-28s %8s s  %12s pkt/s  %8s  %7s MB\n' "tcpdump -r -w /dev/null" "$t_ref" \
  "$(awk -v p="$packets" -v t="$t_ref" 'BEGIN{printf "%.0f", p/t}')" "1.00x" "$((rss_ref / 1024))"
declare -A t_of
for n in "${threads[@]}"; do
  read -r t rss < <(best_of "ss$n" "$bin" replay "$file" --format json -o /dev/null --threads "$n")
  t_of[$n]=$t
  printf '%-28s %8s s  %12s pkt/s  %8s  %7s MB\n' "shellsight --threads $n" "$t" \
    "$(awk -v p="$packets" -v t="$t" 'BEGIN{printf "%.0f", p/t}')" \
    "$(awk -v a="$t" -v b="$t_ref" 'BEGIN{printf "%.2fx", a/b}')" "$((rss / 1024))"
done
if [ -n "${BASELINE:-}" ]; then
  "$bin" -q baseline learn --baseline "$tmp/base.redb" "$file"
  for n in "${threads[@]}"; do
    # Every run scores against the store and learns into it, as a sensor would.
    read -r t rss < <(best_of "bl$n" "$bin" replay "$file" --format json -o /dev/null --threads "$n" \
      --baseline "$tmp/base.redb")
    printf '%-28s %8s s  %12s pkt/s  %8s  %7s MB\n' "  --threads $n --baseline" "$t" \
      "$(awk -v p="$packets" -v t="$t" 'BEGIN{printf "%.0f", p/t}')" \
      "$(awk -v a="$t" -v b="$t_ref" 'BEGIN{printf "%.2fx", a/b}')" "$((rss / 1024))"
  done
  echo "baseline $(du -h "$tmp/base.redb" | cut -f1) on disk"
fi
first=${threads[0]}
for n in "${threads[@]:1}"; do
  echo "scaling  --threads $first -> $n: $(awk -v a="${t_of[$first]}" -v b="${t_of[$n]}" 'BEGIN{printf "%.2fx", a/b}') faster"
done
echo "(elapsed ratio: shellsight time / tcpdump time, best of $runs each, same run)"
