"""Notebook 03's experiment: how long until a new mailbox accepts mail, and at what CPU
cost, for bursts of additions, in three designs:

* "files":        the seed's files, one locked append (and fsync) per mailbox, postmap batched
                  by the scheduler (labkit.mail.postmapd);
* "sqlite":       one INSERT per mailbox, each its own transaction (a commit per row);
* "sqlite-batch": the whole burst in one transaction (SqliteMaps.add_mailboxes), one commit.

Wall time and CPU are reported apart: an fsync is time the writer spends waiting for the
disk (I/O wait), which shows in `write_ms` but not in `write_cpu_ms`.

"Live" is measured from outside, as a sender sees it: RCPT TO from a client outside
mynetworks answers 250 for the LAST mailbox of the burst. CPU counts what the automation
costs on the server: the writer's own CPU, the postmap scheduler's CPU (its polling
included: that is the price of the design) and postmap's CPU; not the probing client.
"""
from __future__ import annotations

import os
import resource
import smtplib
import time
from dataclasses import asdict, dataclass

from labkit.mail import admin
from labkit.mail.errors import PostfixError
from labkit.mail.postfix import LoopbackPostfix
from labkit.mail.sqlitemaps import SqliteMaps
from labkit.mail.postmapd import read_log
from labkit.procs import WaitTimeout, wait_until

TICK = os.sysconf("SC_CLK_TCK")
PROBE_TIMEOUT = 5.0   # seconds one RCPT probe may wait for Postfix before it is retried


def _proc_cpu(pid: int | None) -> float:
    """utime+stime of a live process (seconds), 0 if unknown."""
    if not pid:
        return 0.0
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (OSError, IndexError, ValueError):
        return 0.0


def _self_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


# design -> (the Postfix map backend it runs on, one transaction for the whole burst?)
DESIGNS = {"files": ("hash", False), "sqlite": ("sqlite", False), "sqlite-batch": ("sqlite", True)}


@dataclass
class BurstResult:
    design: str         # a key of DESIGNS
    burst: int          # mailboxes added back to back
    write_ms: float     # time to make all the additions (API calls returned)
    write_cpu_ms: float  # the writer's CPU during write_ms; the rest of write_ms is waiting
    live_ms: float      # from the first addition until the last mailbox answers 250
    lag_ms: float       # live_ms - write_ms: how long the last mailbox waited after its write
    cpu_ms: float       # writer + scheduler + postmap CPU
    postmap_runs: int   # postmap invocations caused by this burst (0 for sqlite)
    stalls: int = 0     # probes Postfix left unanswered for PROBE_TIMEOUT (retried; in live_ms)


def measure_burst(pf: LoopbackPostfix, n: int, prefix: str, poll: float = 0.005,
                  batch: bool = False) -> BurstResult:
    conf = pf.conf_dir
    addresses = [f"{prefix}{i}@exampledomain.ca" for i in range(n)]
    runs_before = len(read_log(conf))
    sched_pid = pf.postmapd.pid if pf.postmapd else None
    self0, sched0 = _self_cpu(), _proc_cpu(sched_pid)
    t0 = time.perf_counter()
    if batch:
        SqliteMaps(conf).add_mailboxes(addresses)
    else:
        for address in addresses:
            admin.add_mailbox(conf, address)
    t_written = time.perf_counter()
    cpu_writer = _self_cpu() - self0          # the probing below is the client's, not counted
    last = addresses[-1]
    stalls = []

    def live() -> bool:
        # a probe Postfix does not answer within PROBE_TIMEOUT counts as "not live yet" and
        # is retried on a new connection; the stall stays in live_ms and is counted
        try:
            return pf.rcpt_status(last, timeout=PROBE_TIMEOUT)[0] == 250
        except (OSError, smtplib.SMTPException) as e:
            stalls.append(f"{type(e).__name__}: {e}")
            return False
    try:
        wait_until(live, 60, poll, what=f"{last} live")
    except WaitTimeout:
        raise PostfixError(f"{last} not live within 60 s (probe failures: {stalls[-3:]}); "
                           f"{pf.cfg.log_file}:\n{pf.log_text()[-2000:]}") from None
    t_live = time.perf_counter()
    cpu_sched = _proc_cpu(sched_pid) - sched0
    runs = read_log(conf)[runs_before:]
    cpu = cpu_writer + cpu_sched + sum(r["cpu_s"] for r in runs)
    design = "files" if pf.cfg.backend == "hash" else "sqlite-batch" if batch else "sqlite"
    return BurstResult(design, n, round((t_written - t0) * 1000, 2),
                       round(cpu_writer * 1000, 2),
                       round((t_live - t0) * 1000, 2), round((t_live - t_written) * 1000, 2),
                       round(cpu * 1000, 2), len(runs), len(stalls))


def burst_experiment(bursts: tuple[int, ...] = (1, 10, 100, 500),
                     designs: tuple[str, ...] = tuple(DESIGNS),
                     quiet: float = 0.3) -> list[dict]:
    """Run each burst size against a fresh loopback Postfix per design; rows as dicts."""
    rows: list[dict] = []
    for design in designs:
        backend, batch = DESIGNS[design]
        with LoopbackPostfix(backend=backend, sinks=(), quiet=quiet) as pf:
            # warm up: the first SMTP session of a fresh Postfix starts smtpd,
            # trivial-rewrite, proxymap and loads the map libraries; not what we measure
            for _ in range(3):
                pf.rcpt_status("admin@exampledomain.ca")
            for n in bursts:
                rows.append(asdict(measure_burst(pf, n, f"b{n}x", batch=batch)))
    return rows
