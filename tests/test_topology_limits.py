"""Hostile topology files are refused quickly and cheaply, with one error line.

An alias bomb, a 100,000-deep nesting and a 10 MB file each used to cost gigabytes or a
RecursionError. Each is loaded here in a fresh Python process that measures its own time
and memory around `load()` (time and peak RSS from getrusage on a first load, peak Python
allocations from tracemalloc on a second), so this test process stays clean and a runaway load is killed by the
subprocess timeout instead of hanging the suite.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from labtest import ROOT

MAX_SECONDS = 2.0
MAX_EXTRA_BYTES = 200 * 1024 * 1024

MEASURE = r"""
import json, resource, sys, time, tracemalloc
resource.setrlimit(resource.RLIMIT_AS, (1536 << 20, 1536 << 20))   # a regression fails, not the machine
from labkit.lab import TopologyError, load


def once():
    try:
        load(sys.argv[1])
        return {"kind": "topology", "text": ""}
    except TopologyError as exc:
        return {"kind": "error", "text": str(exc)}
    except BaseException as exc:
        return {"kind": type(exc).__name__, "text": str(exc)[:500]}


rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
t0 = time.monotonic()
result = once()                  # timed without tracemalloc, which slows every allocation
result["seconds"] = time.monotonic() - t0
result["rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - rss0
tracemalloc.start()
again = once()
result["traced"] = tracemalloc.get_traced_memory()[1]
result["same"] = again == {k: result[k] for k in ("kind", "text")}
print(json.dumps(result))
"""


def alias_bomb() -> bytes:
    """9 levels, each a list of 9 aliases to the level before: 9**9 (387 million) leaves."""
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]")
    return ("\n".join(lines) + "\n").encode()


def deep_nesting() -> bytes:
    return b"nodes: " + b"[" * 100_000 + b"\n"


def ten_megabytes() -> bytes:
    line = b"  # padding " + b"x" * 87 + b"\n"                # 100 bytes
    return b"name: big\nnodes:\n" + line * 100_000 + b"  h1: {role: host}\n"


def a_long_list() -> bytes:
    """Under the size limit, but 450,000 values: pure-Python YAML would take about 8 s."""
    return b"nodes: [" + b"1," * 450_000 + b"]\n"


CASES = {"alias bomb": alias_bomb, "100,000-deep [": deep_nesting, "10 MB file": ten_megabytes,
         "900 KB list": a_long_list}


def test_the_alias_bomb_is_the_small_one_from_the_report():
    assert 380 <= len(alias_bomb()) <= 450
    assert len(ten_megabytes()) >= 10_000_000
    assert len(a_long_list()) < 1_000_000


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_file_gets_one_line_quickly_and_cheaply(tmp_path: Path, name: str):
    path = tmp_path / "hostile.yaml"
    path.write_bytes(CASES[name]())
    proc = subprocess.run([sys.executable, "-c", MEASURE, str(path)], capture_output=True, text=True,
                          timeout=30, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    text = result["text"]
    assert result["kind"] == "error" and result["same"], result
    assert "\n" not in text and text.startswith(f"{path}:") and "(fix:" in text, text
    assert result["seconds"] < MAX_SECONDS, result
    assert result["rss"] < MAX_EXTRA_BYTES and result["traced"] < MAX_EXTRA_BYTES, result
