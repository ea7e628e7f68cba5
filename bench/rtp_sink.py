"""A UDP sink for bench/rtp_streams.py: counts datagrams and SSRCs until stdin has a line.

Runs as its own process, so receiving does not steal the scheduler's CPU or GIL. Prints its
port first, and at the end one JSON line: received, ssrcs, cpu_s.
"""
import json, os, select, socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
n = 0
ssrcs = set()
s.setblocking(False)
while True:
    r, _, _ = select.select([s, sys.stdin], [], [])
    if sys.stdin in r:
        break
    while True:
        try:
            d = s.recv(2048)
        except BlockingIOError:
            break
        n += 1
        ssrcs.add(d[8:12])
print(json.dumps({"received": n, "ssrcs": len(ssrcs),
                  "cpu_s": sum(os.times()[:2])}), flush=True)
