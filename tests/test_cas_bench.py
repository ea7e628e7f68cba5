"""The real contention kernel: real threads on this machine's cores, real lock cmpxchg.

Behaviour only (who lost updates), never timings.  The unsafe lock's race is a matter of
chance, so it gets a large number of acquisitions and a few attempts; with two cores it
loses updates in every attempt in practice.  These tests are never skipped: the kernel is
built on first use, and a missing compiler is an error that says how to fix it.
"""
import pytest

from labkit.cas import contend

CAS_KINDS = ["cas", "cas_pause", "tas", "tas_pause", "cas_backoff", "mutex"]


def run_at_least(acquisitions: int, kind: str, threads: int, seconds: float, **kw):
    """contend.run, run longer (doubling, up to 16x) until it made `acquisitions`.

    The kernel runs for a time, not a count; on a loaded machine a short run can make
    too few acquisitions to mean anything, so the run grows instead of the floor shrinking.
    """
    for _ in range(5):
        r = contend.run(kind, threads, seconds=seconds, **kw)
        if r.acquisitions > acquisitions:
            return r
        seconds *= 2
    return r


@pytest.mark.parametrize("threads", [2, 3])
def test_unsafe_lock_loses_updates(threads):
    for attempt in range(10):
        r = run_at_least(100_000, "unsafe", threads, seconds=0.3)
        assert r.acquisitions > 100_000
        if r.lost_updates > 0:
            break
    assert r.lost_updates > 0, f"unsafe lock lost nothing in {attempt + 1} runs: {r}"
    assert r.counter < r.acquisitions


@pytest.mark.parametrize("kind", CAS_KINDS)
@pytest.mark.parametrize("threads", [2, 3])
def test_cas_and_os_locks_lose_nothing(kind, threads):
    r = run_at_least(1000, kind, threads, seconds=0.15)
    assert r.acquisitions > 1000
    assert r.lost_updates == 0 and r.counter == r.acquisitions


def test_timed_run_reports_contended_handoffs():
    r = contend.run("cas", 2, seconds=0.2, timed=True)
    assert r.lost_updates == 0
    assert r.samples > 0 and 0 < r.handoff_p50_ns <= r.handoff_p99_ns


def test_pingpong_measures_something():
    med, mean = contend.pingpong_ns(20_000)
    assert 0 < med < 1e6 and mean > 0


@pytest.mark.parametrize("kind", ["cas", "mp.Lock"])
def test_processes_sharing_memory_lose_nothing_under_a_real_lock(kind):
    r = contend.run_processes(kind, 2, iters=20_000)
    assert r.counter == 40_000 and r.lost_updates == 0


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="use one of"):
        contend.run("spinny", 2)


def test_missing_compiler_says_how_to_fix(monkeypatch, tmp_path):
    monkeypatch.setattr(contend, "LIB", tmp_path / "libcaskernel.so")
    monkeypatch.setattr(contend.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="apt-get install -y gcc make"):
        contend.build()


@pytest.mark.parametrize("kind", ["cas", "mutex"])
def test_fair_handoff_makes_every_acquisition_a_handoff(kind):
    """The bench's fair workload: no owner re-takes the lock before the other thread had it."""
    r = run_at_least(1000, kind, 2, seconds=0.1, fair=True)
    assert r.lost_updates == 0 and r.acquisitions > 1000
    assert r.handoffs == r.acquisitions
    assert r.batches > 0 and r.acquire_p50_ns > 0
    loose = run_at_least(1000, kind, 1, seconds=0.05, fair=True)   # alone, fair cannot wait for anyone
    assert loose.acquisitions > 1000 and loose.handoffs == 1
