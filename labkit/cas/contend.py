"""Real lock contention on this machine: Python drives, the compiled kernel (kernel.c) runs.

Choice: a small C kernel built by ``make`` (labkit/cas/Makefile), loaded with ctypes.  Its
threads are pthreads pinned round-robin to the cores, and its CAS locks are the seed's own
``lock cmpxchg`` listing in inline assembly, so the timings are of the instructions the post
talks about, not of Python.  ``multiprocessing.Lock`` is measured from Python processes, next
to the same CAS lock called through ctypes, because that is the only fair way to compare
with a lock that only exists in Python.
"""
from __future__ import annotations

import ctypes
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

HERE = Path(__file__).parent
LIB = HERE / "libcaskernel.so"

# kind name -> (index in kernel.c, what it is)
KINDS = {
    "unsafe": (0, "seed listing 1: mov/cmp/je/mov, no atomic step"),
    "cas": (1, "seed listing 2: spin on a read, then lock cmpxchg (test-and-test-and-set)"),
    "cas_pause": (2, "seed listing 2 with pause in the read spin"),
    "tas": (3, "plain test-and-set: lock cmpxchg in a loop, no read spin"),
    "tas_pause": (4, "plain test-and-set with pause after a failed cmpxchg"),
    "cas_backoff": (5, "test-and-test-and-set with exponential backoff (pause x 4..1024)"),
    "mutex": (6, "pthread_mutex_t (glibc, futex-based)"),
}


class _CResult(ctypes.Structure):
    _fields_ = [("acquisitions", ctypes.c_uint64), ("counter", ctypes.c_uint64),
                ("handoffs", ctypes.c_uint64), ("samples", ctypes.c_uint64),
                ("elapsed_s", ctypes.c_double), ("handoff_p50_ns", ctypes.c_double),
                ("handoff_p99_ns", ctypes.c_double), ("handoff_mean_ns", ctypes.c_double),
                ("acquire_p50_ns", ctypes.c_double), ("batches", ctypes.c_uint64)]


@dataclass
class RunResult:
    """One contention run: who got the lock how often, and what the counter says."""

    kind: str
    threads: int
    acquisitions: int
    counter: int
    handoffs: int
    samples: int
    elapsed_s: float
    handoff_p50_ns: float
    handoff_p99_ns: float
    handoff_mean_ns: float
    acquire_p50_ns: float   # median over batches of 64 (thread 0's) of ns per acquisition
    batches: int

    @property
    def lost_updates(self) -> int:
        """Increments that vanished: two threads were in the critical section at once."""
        return self.acquisitions - self.counter

    @property
    def throughput(self) -> float:
        """Lock acquisitions per second, all threads together."""
        return self.acquisitions / self.elapsed_s

    def as_dict(self) -> dict:
        return {**asdict(self), "lost_updates": self.lost_updates, "throughput": self.throughput}


def build(force: bool = False) -> Path:
    """Build libcaskernel.so with make if it is missing or older than kernel.c."""
    src = HERE / "kernel.c"
    if not force and LIB.exists() and LIB.stat().st_mtime >= src.stat().st_mtime:
        return LIB
    if shutil.which("make") is None or shutil.which(os.environ.get("CC", "gcc")) is None:
        raise RuntimeError(f"{LIB} is missing and gcc/make are not installed: "
                           "run `apt-get install -y gcc make` (or scripts/setup.sh), then "
                           f"`make -C {HERE}`")
    proc = subprocess.run(["make", "-s", "-C", str(HERE)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"building {LIB} failed (make -C {HERE}):\n{proc.stdout}{proc.stderr}")
    return LIB


_lib = None


def lib() -> ctypes.CDLL:
    """The loaded kernel (built on first use)."""
    global _lib
    if _lib is None:
        _lib = ctypes.CDLL(str(build()))
        _lib.cas_run.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_double, ctypes.c_int,
                                 ctypes.c_int, ctypes.c_int, ctypes.POINTER(_CResult)]
        _lib.cas_pingpong_ns.argtypes = [ctypes.c_long, ctypes.POINTER(ctypes.c_double)]
        _lib.cas_pingpong_ns.restype = ctypes.c_double
        _lib.cas_tsc_per_ns.restype = ctypes.c_double
        for f in ("cas_acquire", "unsafe_acquire", "lock_release"):
            getattr(_lib, f).argtypes = [ctypes.c_void_p]
    return _lib


def cpus() -> int:
    return lib().cas_cpus()


def run(kind: str, threads: int, seconds: float = 0.2, timed: bool = False,
        work: int = 0, fair: bool = False) -> RunResult:
    """Let `threads` pthreads fight over one lock of `kind` for `seconds`.

    Each thread loops: acquire, increment a shared counter non-atomically, release.  With
    ``timed`` it also stamps the TSC around acquire and before release, and times each
    *contended* handoff: the new owner was already waiting when the old one let go.
    With ``fair`` a thread that released waits until another thread has owned the lock, so
    every acquisition is a handoff (throughput = handoffs/s): the workload on which a
    spinning lock and a sleeping mutex compare fairly, see bench/cas.py.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown lock kind {kind!r}; use one of {', '.join(KINDS)}")
    out = _CResult()
    rc = lib().cas_run(KINDS[kind][0], threads, seconds, int(timed), work, int(fair), ctypes.byref(out))
    if rc != 0:
        raise RuntimeError(f"cas_run({kind}, {threads}) failed with {rc}")
    return RunResult(kind, threads, *(getattr(out, f) for f, _ in _CResult._fields_))


def pingpong_ns(rounds: int = 200_000) -> tuple[float, float]:
    """Round trip of one cache line between cpu 0 and cpu 1 (write, seen, write back, seen).

    Returns (median, mean) in ns; the median is the physical floor the benchmark divides by.
    """
    mean = ctypes.c_double()
    med = lib().cas_pingpong_ns(rounds, ctypes.byref(mean))
    return med, mean.value


# ---- the Python-process tier: multiprocessing.Lock against the kernel's locks via ctypes ----

def _proc_worker(kind: str, iters: int, mem, lock, start) -> None:
    k = lib()
    word = ctypes.addressof(mem)                   # mem[0] is the lock word, mem[16] the counter
    start.wait()
    if kind == "mp.Lock":
        for _ in range(iters):
            lock.acquire()
            mem[16] = mem[16] + 1
            lock.release()
    else:
        acq = k.cas_acquire if kind == "cas" else k.unsafe_acquire
        rel = k.lock_release
        for _ in range(iters):
            acq(word)
            mem[16] = mem[16] + 1
            rel(word)


@dataclass
class ProcResult:
    kind: str
    processes: int
    iterations: int
    counter: int
    elapsed_s: float

    @property
    def lost_updates(self) -> int:
        return self.processes * self.iterations - self.counter

    @property
    def throughput(self) -> float:
        return self.processes * self.iterations / self.elapsed_s


def run_processes(kind: str, processes: int, iters: int = 50_000) -> ProcResult:
    """Processes (fork) share a lock word and a counter in shared memory; time `iters` each.

    kind: "mp.Lock" (a POSIX semaphore), "cas" (seed lock with pause, via ctypes) or "unsafe".
    """
    if kind not in ("mp.Lock", "cas", "unsafe"):
        raise ValueError(f"unknown kind {kind!r}: use mp.Lock, cas or unsafe")
    lib()
    ctx = mp.get_context("fork")
    mem = ctx.RawArray(ctypes.c_int, 32)          # lock word and counter on separate lines
    lock, start = ctx.Lock(), ctx.Barrier(processes + 1)
    procs = [ctx.Process(target=_proc_worker, args=(kind, iters, mem, lock, start))
             for _ in range(processes)]
    for p in procs:
        p.start()
    try:
        start.wait()
        t0 = time.perf_counter()
        for p in procs:
            p.join()
        elapsed = time.perf_counter() - t0
    finally:
        for p in procs:                            # only the children we started
            if p.is_alive():
                p.kill()
                p.join()
    return ProcResult(kind, processes, iters, mem[16], elapsed)


def progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def curves(kinds: list[str], contenders: list[int], seconds: float = 0.15, repeats: int = 3,
           on_progress=progress) -> dict:
    """Throughput (untimed runs) and handoff latency (timed runs) for each kind and N.

    ``out["throughput"][(kind, n)]`` is the run of median throughput among `repeats` (so one
    preempted run does not set the curve); ``out["samples"][("throughput"|"handoff", kind, n)]``
    lists that figure (throughput, handoff p50) over the repeats, for its spread.
    """
    out: dict = {"throughput": {}, "handoff": {}, "samples": {}}
    total, done = len(kinds) * len(contenders) * 2, 0
    for kind in kinds:
        for n in contenders:
            for mode, timed in (("throughput", False), ("handoff", True)):
                runs = sorted((run(kind, n, seconds=seconds, timed=timed) for _ in range(repeats)),
                              key=lambda r: r.throughput)
                r = out[mode][(kind, n)] = runs[len(runs) // 2]
                out["samples"][(mode, kind, n)] = [x.throughput if mode == "throughput" else x.handoff_p50_ns
                                                   for x in runs]
                done += 1
                if on_progress:
                    on_progress(f"[{done}/{total}] {kind:11s} N={n} {mode:10s} "
                                f"{r.throughput / 1e6:8.2f} M/s  handoff p50 {r.handoff_p50_ns:7.0f} ns"
                                f"  lost {r.lost_updates}")
    return out
