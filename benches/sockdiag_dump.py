#!/usr/bin/env python3
"""Times a raw NETLINK_SOCK_DIAG dump of TCP (IPv4 + IPv6) against reading
/proc/net/tcp{,6}, both in the caller's namespace, without formatting: the kernel
cost each route pays. Used by benches/agent_scan.sh for the sock_diag vs /proc choice."""
import socket, struct, sys, time

NETLINK_SOCK_DIAG, SOCK_DIAG_BY_FAMILY, NLMSG_DONE = 4, 20, 3
NLM_F_REQUEST_DUMP = 0x301


def dump(family):
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG)
    req = struct.pack("=BBBBI", family, socket.IPPROTO_TCP, 0, 0, 0xFFFFFFFF) + b"\0" * 48
    s.send(struct.pack("=IHHII", 16 + len(req), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST_DUMP, 1, 0) + req)
    n, done = 0, False
    while not done:
        b = s.recv(1 << 20)
        off = 0
        while off < len(b):
            length, kind = struct.unpack_from("=IH", b, off)
            if kind == NLMSG_DONE:
                done = True
                break
            n += 1
            off += (length + 3) & ~3
    s.close()
    return n


def proc():
    n = 0
    for p in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(p, "rb") as f:
            n += f.read().count(b"\n") - 1
    return n


runs = int(sys.argv[1]) if len(sys.argv) > 1 else 9
for name, fn in (("sock_diag", lambda: dump(socket.AF_INET) + dump(socket.AF_INET6)), ("proc", proc)):
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        n = fn()
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    print(f"{name}: {times[len(times) // 2]:.1f} ms median, {n} sockets")
