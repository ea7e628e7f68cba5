"""Mail benchmark: Postfix end to end vs an aiosmtpd sink, and mailbox go-live time.

Side by side in one run, on loopback, in interleaved rounds (bench/stats.py: each of the
four measurements once per round, the order reversed every other round, so the machine's
noise hits all alike):
  * reference: the aiosmtpd sink (labkit.mail.sink) taking messages over ONE connection
    (docs/machine.md: ~800 msg/s between namespaces, no-op handler);
  * Postfix from the seed main.cf: messages/s from the first SMTP command until the last
    message sits in admin@'s Maildir (accepted, queued, delivered by virtual(8));
  * time until a new mailbox accepts mail: files + debounced postmap vs SQLite.

Ratios (Postfix/sink, files/SQLite) are taken within each round and their median
reported; every figure is printed as its median with IQR and range (the go-live times
pool the `--repeats` samples of every round). Progress goes to stderr; the last line is
the JSON the team's tooling reads; exit 0 whether the targets are met or not.

    .venv/bin/python bench/mail.py [--rounds 3] [--messages 2000] [--clients 8] [--repeats 7]
"""
from __future__ import annotations

import argparse
import os
import smtplib
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from labkit.mail import admin  # noqa: E402
from labkit.mail.postfix import LoopbackPostfix, SinkProcess  # noqa: E402
from labkit.procs import wait_until  # noqa: E402
from stats import finish, interleaved, median, ratios, show, spread, target  # noqa: E402

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
    print(f"  aiosmtpd sink      {n / dt:8.0f} msg/s", file=sys.stderr, flush=True)
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
    print(f"  Postfix            {n / t_all:8.0f} msg/s end to end ({n / t_acc:.0f} accepted)",
          file=sys.stderr, flush=True)
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
    print(f"  {backend:6s} mailbox live  median {median(out):7.1f} ms of {repeats}", file=sys.stderr, flush=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=7, help="new mailboxes per backend per round")
    a = ap.parse_args()

    runs = interleaved(a.rounds, {"sink": lambda: sink_rate(a.messages),
                                  "postfix": lambda: postfix_rate(a.messages, a.clients),
                                  "files": lambda: live_ms("hash", a.repeats),
                                  "sqlite": lambda: live_ms("sqlite", a.repeats)})
    ref = runs["sink"]
    e2e = [e for e, _ in runs["postfix"]]
    acc = [c for _, c in runs["postfix"]]
    to_sink = ratios(e2e, ref)                                   # per round: same noise
    files = [ms for r in runs["files"] for ms in r]
    db = [ms for r in runs["sqlite"] for ms in r]
    files_vs_db = ratios([median(r) for r in runs["files"]], [median(r) for r in runs["sqlite"]])
    print(f"{a.rounds} interleaved rounds, {a.messages} messages, {a.repeats} new mailboxes per backend:")
    print(f"aiosmtpd sink, 1 connection:      {show(ref, '.0f')} msg/s (reference)")
    print(f"Postfix end to end, {a.clients} clients:  {show(e2e, '.0f')} msg/s")
    print(f"Postfix smtpd accepted:           {show(acc, '.0f')} msg/s")
    print(f"Postfix/sink per round:           {show(to_sink, '.2f')}")
    print(f"new mailbox live, files+postmap:  {show(files, '.1f')} ms (debounce quiet period 300 ms)")
    print(f"new mailbox live, SQLite:         {show(db, '.1f')} ms")
    print(f"files/SQLite per round:           {show(files_vs_db, '.0f')}x")
    finish({"postfix_msgs_per_s": target(median(e2e), 200, "higher"),
            "db_mailbox_live_ms": target(median(db), 50, "lower"),
            "file_mailbox_live_ms": target(median(files), 1500, "lower")},
           reference={"aiosmtpd_sink_msgs_per_s": round(median(ref), 1),
                      "postfix_to_sink_ratio": round(median(to_sink), 3)},
           spreads={"postfix_msgs_per_s": spread(e2e), "db_mailbox_live_ms": spread(db),
                    "file_mailbox_live_ms": spread(files), "aiosmtpd_sink_msgs_per_s": spread(ref),
                    "postfix_accepted_msgs_per_s": spread(acc), "postfix_to_sink_ratio": spread(to_sink),
                    "files_vs_db_live": spread(files_vs_db)},
           rounds=a.rounds, messages=a.messages, clients=a.clients, repeats=a.repeats)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
