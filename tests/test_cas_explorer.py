"""The interleaving explorer on the seed's listings (pure logic: no threads, no timing)."""

import pytest

from labkit.cas import SUBSET, AsmError, drop_lock, explore, parse, seed_listing
from labkit.lessons.cas import BROKEN_LOCK, check_fix, draw_trace


def test_seed_listings_parse_as_written():
    unsafe = parse(seed_listing("unsafe"))
    assert [i.op for i in unsafe.instrs] == ["mov", "cmp", "je", "mov", "mov"]
    assert unsafe.labels == {"l2": 0, "l3": 4}
    cas = parse(seed_listing("cmpxchg"))
    assert [i.text for i in cas.instrs] == [
        "mov edx,1", "mov eax,[mutex]", "cmp eax,1", "je l2", "lock cmpxchg [mutex],edx", "jnz l2"]
    assert cas.instrs[4].lineno == 5     # the lock line with the glued comment


def test_long_searches_report_progress():
    seen = []
    r = explore(seed_listing("cmpxchg"), threads=4, on_progress=lambda n, i: seen.append(n),
                progress_every=10_000)
    assert r.safe is True and seen and seen == sorted(seen)


def test_unsafe_listing_shortest_race():
    r = explore(seed_listing("unsafe"), threads=2)
    assert r.safe is False and r.verdict == "UNSAFE"
    tr = r.counterexample
    assert len(tr) == 10                 # 5 steps each: nobody can get in faster
    assert tr.schedule == [0, 0, 0, 0, 1, 0, 1, 1, 1, 1]
    assert tr.steps[-1].in_cs == (True, True)
    # the race: T1 reads the lock as free before T0's store lands
    assert tr.steps[4].text == "l2: mov eax,[mutex]" and tr.steps[4].memory["mutex"] == 0
    table = r.table()
    assert "T0 and T1 are both in the critical section" in table
    assert table.count("\n") == 14      # 3 rules, header, 10 steps, verdict


@pytest.mark.parametrize("threads", [2, 3])
def test_cmpxchg_listing_is_proved_safe(threads):
    r = explore(seed_listing("cmpxchg"), threads=threads)
    assert r.safe is True and r.live is True and r.counterexample is None
    assert r.states > 100


def test_dropping_lock_brings_the_race_back_on_multicore_only():
    listing = drop_lock(seed_listing("cmpxchg"))
    assert "lock" not in listing.split(";")[0] and "cmpxchg [mutex],edx     ; At this point" in listing
    r = explore(listing, threads=2)
    assert r.safe is False
    kinds = [s.effect for s in r.counterexample.steps if "cmpxchg" in s.text]
    assert kinds[0].startswith("read") and kinds[1].startswith("read")   # both read 0 first
    for n in (2, 3):
        assert explore(listing, threads=n, machine="unicore").safe is True


def test_dropped_lock_write_back_loses_the_lock():
    r = explore(drop_lock(seed_listing("cmpxchg")), threads=2, full=True)
    assert r.safe is False and r.live is False
    last = r.stuck.steps[-1]
    assert "writes back [mutex]=1" in last.effect and not any(last.in_cs)


def test_broken_exercise_lock_fails_and_fixes_pass():
    rep = check_fix(BROKEN_LOCK)
    assert not rep.passed
    assert [r.verdict for r in rep.results] == ["SAFE BUT STUCK", "UNSAFE"]
    assert check_fix(BROKEN_LOCK.replace("jz spin", "jnz spin")).passed
    xchg_lock = "spin: mov eax,1\n xchg eax,[mutex]\n test eax,eax\n jnz spin\n"
    assert check_fix(xchg_lock).passed
    assert not check_fix("l: jmp l\n").passed           # safe because nobody gets in
    assert not check_fix(seed_listing("unsafe")).passed


def test_bound_gives_unknown_not_safe():
    r = explore(seed_listing("cmpxchg"), threads=3, max_states=50)
    assert r.safe is None and r.verdict == "UNKNOWN"


def test_explorer_is_deterministic():
    a = explore(drop_lock(seed_listing("cmpxchg")), threads=3).table()
    b = explore(drop_lock(seed_listing("cmpxchg")), threads=3).table()
    assert a == b


@pytest.mark.parametrize("src,lineno,words", [
    ("mov eax,[mutex]\n jl l\n", 2, "jl is outside the accepted subset"),
    ("  lock mov [mutex],eax\n", 1, "lock prefix on mov"),
    ("nop\nadd eax,1\n", 2, "add is outside"),
    ("jmp nowhere\n", 1, "undefined label nowhere"),
    ("mov eax,[rbx+4]\n", 1, "memory operand"),
    ("cmpxchg eax,edx\n", 1, "memory destination"),
    ("l: nop\nl: nop\n", 2, "already defined on line 1"),
    ("mov rax,[mutex]\n", 1, "32-bit register"),
])
def test_errors_name_the_line(src, lineno, words):
    with pytest.raises(AsmError) as e:
        parse(src, "student.asm")
    assert e.value.lineno == lineno
    assert str(e.value).startswith(f"student.asm:{lineno}:") and words in str(e.value)
    assert "(fix: " in str(e.value) and e.value.fix and str(e.value).endswith(f"(fix: {e.value.fix})")
    assert e.value.diagnostics[0].text == src.splitlines()[lineno - 1].strip()


def test_subset_is_documented():
    import labkit.cas.asm as asm
    for word in ("cmpxchg", "xchg", "jnz", "pause", "lock"):
        assert word in SUBSET and word in asm.__doc__


def test_drawing_has_one_lane_per_thread():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig = draw_trace(explore(seed_listing("unsafe"), threads=3))
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert labels == ["T0", "T1", "T2"]
    plt.close(fig)
