#!/usr/bin/env bash
# Rebuilds geoip/asn.mmdb from the ip-location-db ASN CSVs (CC BY 4.0, RouteViews and DB-IP).
#
#   geoip/rebuild.sh              # the package version the shipped file was built from
#   geoip/rebuild.sh latest       # the newest published version (update geoip/README.md too)
#   geoip/rebuild.sh 2.3.2026061719
#
# The build time in the database's metadata is taken from the package version
# (2.3.YYYYMMDDHH, UTC) unless SOURCE_DATE_EPOCH is set, so the same version always
# gives a byte-identical file.
set -euo pipefail
cd "$(dirname "$0")/.."

version=${1:-2.3.2026061719}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

(cd "$tmp" && npm pack --silent "@ip-location-db/asn@$version" >/dev/null && tar xzf ip-location-db-asn-*.tgz)
got=$(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$tmp/package/package.json")
stamp=${got##*.}
if [[ -z "${SOURCE_DATE_EPOCH:-}" ]]; then
    if [[ ! "$stamp" =~ ^[0-9]{10}$ ]]; then
        echo "rebuild.sh: cannot read a date from package version $got; set SOURCE_DATE_EPOCH" >&2
        exit 1
    fi
    SOURCE_DATE_EPOCH=$(date -u -d "${stamp:0:4}-${stamp:4:2}-${stamp:6:2} ${stamp:8:2}:00:00" +%s)
fi
export SOURCE_DATE_EPOCH

cargo build --release --quiet
./target/release/shellsight geoip import \
    "$tmp/package/asn-ipv4.csv" "$tmp/package/asn-ipv6.csv" -o geoip/asn.mmdb
echo "built geoip/asn.mmdb from @ip-location-db/asn@$got (build_epoch $SOURCE_DATE_EPOCH)"

# Every ASN in the class list must still announce address space; print the ones whose
# name needs a human look.
python3 geoip/check-classes.py --flagged "$tmp/package/asn-ipv4.csv" "$tmp/package/asn-ipv6.csv"
