#!/usr/bin/env python3
"""Load for benches/agent_scan.sh: a listener that accepts and holds every connection,
and PROCS forked children each holding CONNS client connections to it (loopback only).
Children are forked from one interpreter, so their memory is mostly shared.
Prints READY when every connection is accepted, then waits to be killed."""
import os, signal, socket, sys, threading, time

procs, conns = int(sys.argv[1]), int(sys.argv[2])
lst = socket.socket()
lst.bind(("127.0.0.1", 0))
lst.listen(4096)
port = lst.getsockname()[1]
held = []

def accept_all():
    while True:
        s, _ = lst.accept()
        held.append(s)

threading.Thread(target=accept_all, daemon=True).start()
children = []
for _ in range(procs):
    pid = os.fork()
    if pid == 0:
        # Drop what fork inherited (the listener, accepted ends): each child holds only
        # its own connections, as independent clients would.
        lst.close()
        for s in list(held):
            s.close()
        mine = [socket.create_connection(("127.0.0.1", port)) for _ in range(conns)]
        signal.pause()
        os._exit(0)
    children.append(pid)
want = procs * conns
deadline = time.time() + 120
while len(held) < want and time.time() < deadline:
    time.sleep(0.1)
print("READY" if len(held) >= want else f"ONLY {len(held)}", flush=True)
signal.signal(signal.SIGTERM, lambda *a: (os.killpg(0, signal.SIGKILL)))
signal.pause()
