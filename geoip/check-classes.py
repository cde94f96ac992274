#!/usr/bin/env python3
"""Cross-check geoip/asn-classes.csv against the ip-location-db CSVs.

Prints every listed ASN with the name given in the list next to the organisation the
data carries and its IPv4 address count, and flags entries that need a human look:
  MISSING  the ASN announces nothing in the data (typo, or a retired ASN)
  CHECK    no word of the list name appears in the data's organisation name

Usage: geoip/check-classes.py [--flagged] asn-ipv4.csv asn-ipv6.csv [classes.csv]
Exit status 1 when any ASN is MISSING.
"""
import csv
import ipaddress
import os
import re
import sys

args = sys.argv[1:]
flagged_only = "--flagged" in args
args = [a for a in args if a != "--flagged"]
if len(args) < 2:
    sys.exit(__doc__)
classes = args[2] if len(args) > 2 else os.path.join(os.path.dirname(__file__), "asn-classes.csv")

org, size = {}, {}
for path in args[:2]:
    with open(path, newline="") as f:
        for start, end, asn, name in csv.reader(f):
            a = int(asn)
            org.setdefault(a, name)
            if ":" not in start:
                size[a] = size.get(a, 0) + int(ipaddress.IPv4Address(end)) - int(ipaddress.IPv4Address(start)) + 1

STOP = {"the", "of", "and", "inc", "llc", "ltd", "sa", "s", "a", "de", "co", "group", "limited", "corp",
        "communications", "telecom", "network", "networks", "mobile", "cloud", "ex", "fixed"}
def words(s):
    return {w for w in re.findall(r"[a-z0-9]+", s.lower()) if w not in STOP and len(w) > 1}

missing = 0
with open(classes, newline="") as f:
    for row in csv.reader(line for line in f if not line.startswith("#")):
        if not row or row[0] == "asn":
            continue
        a, cls, name = int(row[0]), row[1], row[2]
        data = org.get(a)
        if data is None:
            flag = "MISSING"
            missing += 1
        elif words(name) & words(data):
            flag = ""
        else:
            flag = "CHECK"
        if flag or not flagged_only:
            print(f"{flag:7} AS{a:<7} {cls:<11} {name[:40]:<40} | {data or '-'} ({size.get(a, 0)} IPv4)")
sys.exit(1 if missing else 0)
