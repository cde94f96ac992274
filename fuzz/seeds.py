#!/usr/bin/env python3
"""Writes a seed corpus for each fuzz target into OUT/<target>/, from the fixtures:
small captures whole (capture_file), their frames (decode), TCP payloads (tells),
DNS messages (dns), TLS handshakes (tls), the agent's /proc and container fixture
trees (procfs, container), the example site policy (site_config), and frames of the
agent wire protocol (agent_wire). Usage: seeds.py REPO_ROOT OUT"""
import hashlib, json, pathlib, struct, sys

root, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])

def put(target, data):
    d = out / target
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha1(data).hexdigest()).write_bytes(data)

def pcap_frames(path):
    b = path.read_bytes()
    if len(b) < 24 or b[:4] != b"\xd4\xc3\xb2\xa1":
        return
    at = 24
    while at + 16 <= len(b):
        caplen = struct.unpack_from("<I", b, at + 8)[0]
        yield b[at + 16: at + 16 + caplen]
        at += 16 + caplen

captures = sorted((root / "fixtures/captures").glob("*.pcap"))
for cap in captures:
    if cap.stat().st_size <= 16 << 10:
        put("capture_file", cap.read_bytes())
    for i, frame in enumerate(pcap_frames(cap)):
        if i < 40:
            put("decode", b"\x01" + frame)  # 1: the Ethernet entry of the target's link list
        if i >= 40 or len(frame) < 14 + 20 + 8 or frame[12:14] != b"\x08\x00":
            continue
        ihl = (frame[14] & 15) * 4
        l4 = frame[14 + ihl:]
        if frame[14 + 9] == 17 and len(l4) > 8 and 53 in struct.unpack_from(">HH", l4):
            put("dns", l4[8:])
        if frame[14 + 9] == 6 and len(l4) >= 20:
            payload = l4[(l4[12] >> 4) * 4:]
            if payload:
                put("tls" if payload[:1] == b"\x16" else "tells", payload[:4096])
                if {80, 445, 8080} & set(struct.unpack_from(">HH", l4)):
                    put("app_layer", payload[:4096])

for f in (root / "tests/fixtures/tls").glob("*.bin"):
    put("tls", f.read_bytes())

for f in (root / "tests/fixtures/agent").rglob("*"):
    if not f.is_file() or f.suffix == ".py":
        continue
    target = "container" if f.name in ("config.json", "config.v2.json", "token", "cgroup") else "procfs"
    put(target, f.read_bytes())

put("site_config", (root / "deploy/site.example.toml").read_bytes())

def frame(msg):
    body = json.dumps(msg).encode()
    return struct.pack(">I", len(body)) + body

hello = {"type": "hello", "version": 2, "token": "a-shared-token-0123456789", "host": "h", "boot_id": "b"}
put("agent_wire", frame(hello))
put("agent_wire", frame(hello) + frame({"type": "delta", "records": []}) + frame({"type": "welcome"}))
put("netlink", bytes(64))
