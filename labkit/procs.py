"""Processes a bench or a test started itself: only these PIDs are ever signalled.

The lab engine records its daemons on disk (labkit.lab.state); this is the small,
in-memory counterpart for loopback rigs that run daemons without a lab.
"""
from __future__ import annotations

import signal
import subprocess
from pathlib import Path


class OwnProcesses:
    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []

    def spawn(self, argv, log: Path, **kw) -> subprocess.Popen:
        """Start argv with stdout+stderr to `log` and remember it."""
        with open(log, "w") as out:
            p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, **kw)
        self.procs.append(p)
        return p

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM every process still running, SIGKILL what outlives `grace` seconds."""
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(grace)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
