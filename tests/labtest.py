"""Helpers for lab tests: the real CLI, and a scan for anything a lab left behind."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def labkit_cli(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the real `labkit` command line (python -m labkit.cli) and capture its output."""
    p = subprocess.run([sys.executable, "-m", "labkit.cli", *args], capture_output=True, text=True,
                       timeout=timeout, cwd=ROOT)
    if check and p.returncode != 0:
        raise AssertionError(f"labkit {' '.join(args)} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
    return p


def leftovers(instance: str) -> list[str]:
    """Everything of a lab instance still visible on the machine: namespaces, state, processes."""
    out = []
    ns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    out += [line.split()[0] for line in ns.splitlines() if line.startswith(f"lk-{instance}-")]
    if Path(f"/run/labkit/{instance}").exists():
        out.append(f"/run/labkit/{instance}")
    if Path("/etc/netns").exists():
        out += [str(p) for p in Path("/etc/netns").glob(f"lk-{instance}-*")]
    br = subprocess.run(["ovs-vsctl", "list-br"], capture_output=True, text=True).stdout.split()
    out += [b for b in br if b.startswith(f"lk{instance}")]
    return out
