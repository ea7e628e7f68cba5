"""Mail benchmark: Postfix end to end vs an aiosmtpd sink, and mailbox go-live time.

Side by side in one run, on loopback:
  * reference: the aiosmtpd sink (labkit.mail.sink) taking messages over ONE connection
    (docs/machine.md: ~800 msg/s between namespaces, no-op handler);
  * Postfix from the seed main.cf: messages/s from the first SMTP command until the last
    message sits in admin@'s Maildir (accepted, queued, delivered by virtual(8));
  * time until a new mailbox accepts mail: files + debounced postmap vs SQLite.

    .venv/bin/python bench/mail.py [--messages 2000] [--clients 8] [--repeats 7]

The last line is the JSON the team's tooling reads.
"""
from __future__ import annotations

import argparse
import json
import os
import smtplib
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from labkit.mail import admin  # noqa: E402
from labkit.mail.postfix import LoopbackPostfix, SinkProcess  # noqa: E402
from labkit.procs import wait_until  # noqa: E402

BODY = ("Subject: bench {n}\r\nFrom: bench@example.org\r\n\r\n" + ("x" * 78 + "\r\n") * 13)  # ~1 KB


def sink_rate(n: int) -> float:
    with tempfile.TemporaryDirectory(prefix="lk-mail-bench-") as d:
        sink = SinkProcess(Path(d) / "store")
        try:
            with smtplib.SMTP(sink.host, sink.port) as s:
                t0 = time.perf_counter()
                for i in range(n):
                    s.sendmail("bench@example.org", ["r@gmail.com"], BODY.format(n=i).encode())
                dt = time.perf_counter() - t0
        finally:
            sink.stop()
    return n / dt


def postfix_rate(n: int, clients: int) -> tuple[float, float]:
    """(msgs/s end to end, msgs/s accepted by smtpd)."""
    with LoopbackPostfix(backend="hash", sinks=()) as pf:
        new = pf.mailbox_path("exampledomain.ca/admin/new")
        pf.rcpt_status("admin@exampledomain.ca")  # warm up smtpd/trivial-rewrite

        def client(k: int) -> None:
            with pf.smtp() as s:
                for i in range(k, n, clients):
                    s.sendmail("bench@example.org", ["admin@exampledomain.ca"],
                               BODY.format(n=i).encode())
        threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        t_acc = time.perf_counter() - t0
        wait_until(lambda: new.is_dir() and len(os.listdir(new)) >= n, 300, 0.01,
                   what=f"{n} deliveries")
        t_all = time.perf_counter() - t0
    return n / t_all, n / t_acc


def live_ms(backend: str, repeats: int) -> list[float]:
    out = []
    with LoopbackPostfix(backend=backend, sinks=(), quiet=0.3) as pf:
        for _ in range(3):
            pf.rcpt_status("admin@exampledomain.ca")
        for i in range(repeats):
            addr = f"live{i}@exampledomain.ca"
            t0 = time.perf_counter()
            admin.add_mailbox(pf.conf_dir, addr)
            wait_until(lambda: pf.rcpt_status(addr)[0] == 250, 60, 0.002, what=f"{addr} live")
            out.append((time.perf_counter() - t0) * 1000)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=7)
    a = ap.parse_args()

    ref = sink_rate(a.messages)
    print(f"aiosmtpd sink, 1 connection:      {ref:8.0f} msg/s (reference)")
    e2e, acc = postfix_rate(a.messages, a.clients)
    print(f"Postfix end to end, {a.clients} clients:  {e2e:8.0f} msg/s "
          f"(smtpd accepted {acc:.0f} msg/s); ratio to sink {e2e / ref:.2f}")
    files = live_ms("hash", a.repeats)
    db = live_ms("sqlite", a.repeats)
    f_med, d_med = statistics.median(files), statistics.median(db)
    print(f"new mailbox live, files+postmap:  median {f_med:7.1f} ms "
          f"(min {min(files):.1f}, max {max(files):.1f}; debounce quiet period 300 ms)")
    print(f"new mailbox live, SQLite:         median {d_med:7.1f} ms "
          f"(min {min(db):.1f}, max {max(db):.1f}); files/SQLite = {f_med / d_med:.0f}x")
    print(json.dumps({"targets": {
        "postfix_msgs_per_s": {"value": round(e2e, 1), "target": 200, "better": "higher"},
        "db_mailbox_live_ms": {"value": round(d_med, 2), "target": 50, "better": "lower"},
        "file_mailbox_live_ms": {"value": round(f_med, 1), "target": 1500, "better": "lower"},
    }, "reference": {"aiosmtpd_sink_msgs_per_s": round(ref, 1),
                     "postfix_to_sink_ratio": round(e2e / ref, 3)}}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
