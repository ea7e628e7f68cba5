# Source of notebooks/05-cas-lock.ipynb, in the format of scripts/new_notebook.py:
#   .venv/bin/python scripts/new_notebook.py data/cas/05-cas-lock.src.py notebooks/05-cas-lock.ipynb
CELLS = [
("md", """
# 05 — Implementing your own mutex with cmpxchg

The seed's last post argues in x86 assembly, in three steps:

1. a lock that spins until `[mutex]` reads 0 and then stores 1 is **unsafe**: another thread
   can change the value "between l2 and l3";
2. `cmpxchg` makes the test and the set **one atomic step**, so the lock becomes safe;
3. the **`lock` prefix** is what keeps other CPUs out.

This notebook turns each step into something you can run. `labkit.cas.explore` reads the
post's listings exactly as written (labels and comments included), runs N threads of them
around a critical section, and searches **every interleaving** (breadth-first, so the
counterexample it prints is a shortest one). Then real threads on this machine's two cores
fight over the real `lock cmpxchg`. No network lab is needed here.

**Goals:** see the race, see the proof, break the proof by dropping `lock`, measure what
contention costs, and fix a broken lock yourself (exercise, graded: the explorer proves
your lock, with a hidden test from another angle).
"""),
("code", """
import matplotlib.pyplot as plt
from labkit.cas import explore, replay, drop_lock, seed_listing, parse, SUBSET
from labkit.cas import contend
from labkit.lessons.cas import check_fix, BROKEN_LOCK, draw_trace, plot_contention

print(seed_listing("unsafe"))
"""),
("md", """
## Step 1 — the unsafe lock

Above is the post's first listing, verbatim. The post asks: *what if another thread or another
CPU changed the value between l2 and l3?* The explorer answers with a schedule. Each thread runs
the listing, falls through into the critical section (CS), and leaves it with `mov [mutex],0`.
One row is one step of one thread; a step is one instruction, i.e. one memory access other CPUs
can observe.
"""),
("code", """
r = explore(seed_listing("unsafe"), threads=2)
print(r.summary())
print(r.table())
"""),
("code-ignore", """
draw_trace(r);
"""),
("md", """
T1's `mov eax,[mutex]` (step 5) runs after T0 has decided the lock is free but before T0's
store at `l3` lands. Both see 0, both store 1, both go in. No schedule shorter than 10 steps
does it: each thread needs its 5 instructions. With three threads the shortest race is the same
10 steps; the third thread does not have to move at all.
"""),
("md", """
## Step 2 — `lock cmpxchg` makes test-and-set one step

The second listing, verbatim. The explorer accepts this subset of x86 (anything else is refused
with an error that names the line):
"""),
("code", """
print(SUBSET)
print(seed_listing("cmpxchg"))
for ins in parse(seed_listing("cmpxchg")).instrs:
    print(f"line {ins.lineno:2d}: {ins.text}")
"""),
("md", """
**A mistake in the seed's comment.** The last comment line says *"zf will have been set in that
case"* (the case where cmpxchg found the mutex changed). It is the other way round: cmpxchg
**sets** ZF when the compare succeeds (and stores edx), and **clears** ZF when it fails (and
loads the mutex into eax). The code is right, the comment is wrong: `jnz l2` jumps back exactly
when ZF is clear, i.e. when cmpxchg failed. Here is that case, replayed step by step: T1 read 0,
but T0's cmpxchg got there first.
"""),
("code", """
sched = [0, 0, 0, 0, 1, 1, 1, 1, 0, 1, 1]
print(replay(seed_listing("cmpxchg"), sched, threads=2,
             verdict="T0 owns the lock; T1's cmpxchg failed: ZF=0, eax=1, jnz jumps back").table())
"""),
("md", """
Now the proof. With no race to stop at, the search visits *every* reachable state (registers,
ZF, program counters, memory) for 2 and for 3 threads. The state space is finite, so "no
state has two threads in the CS" is a proof for that number of threads, not a test. It also
checks progress: from every state, some schedule lets some thread in.

**A proof in which model.** The explorer interleaves whole accesses to one shared memory: every
load sees the latest store. That is *sequential consistency*, and the proof holds for it. x86 is
weaker: it is *TSO* (total store order). Each core's stores wait in a store buffer, and a later
load may complete before an earlier store to another address is visible (Intel SDM vol. 3A
§8.2.2 "Memory Ordering in P6 and More Recent Processor Families": reads may be reordered with
older writes to different locations; §8.2.3.4 shows it). The proof still carries over to this lock,
because of the rest of §8.2.2:

- *locked instructions have a total order*, and *reads and writes are not reordered with locked
  instructions* (§8.2.2; §8.1.2 says a locked operation waits for earlier loads and stores and
  drains the store buffer). `lock cmpxchg` is a full barrier: the acquire cannot be passed by
  anything before or after it, so it behaves as in the sequentially consistent model;
- the **release can be a plain `mov [mutex],0`**: *writes are not reordered with other writes*
  and *writes are not reordered with older reads* (§8.2.2), so every load and store of the
  critical section is visible before the store that frees the lock. The one reordering TSO
  allows (a later load passing the release while it sits in the store buffer) only delays the
  moment others see the lock free; it cannot let two threads in.

On a weaker machine (ARM, POWER) the same listing would need an acquire barrier after the
cmpxchg and a release barrier before the `mov`.
"""),
("code", """
for n in (2, 3):
    print(explore(seed_listing("cmpxchg"), threads=n).summary())
"""),
("md", """
## Step 3 — drop `lock`

*"We want the CPU to lock the bus before doing the operation so that no other CPU will interfere
with that memory location."* On a multi-core x86, a `cmpxchg` without `lock` is still one
instruction, but its read and its write are separate accesses, and another core's access can
come in between. The explorer models that: unlocked cmpxchg takes two steps, a read and a
write. (Modern CPUs lock the cache line, not the bus, when the operand sits in one line, but
the guarantee is the same.)
"""),
("code", """
nolock = drop_lock(seed_listing("cmpxchg"))
r = explore(nolock, threads=2)
print(r.summary())
print(r.table())
"""),
("code-ignore", """
draw_trace(r);
"""),
("md", """
Both threads read 0 (steps 5 and 10) before either writes: the race of step 1 is back, just
inside one instruction. On a **single logical CPU** the unlocked version is safe, because an
interrupt (and so a thread switch) only happens between instructions. "Single" means one
*logical* processor, not one physical core: with Hyper-Threading a core runs two logical
processors at once, each with its own instruction stream, and their memory accesses interleave
inside an instruction just as two cores' do (the SDM's memory-ordering rules of §8.2 are stated
per logical processor). Two threads on sibling hyper-threads still need `lock`. `machine="unicore"`
models one logical CPU:
"""),
("code", """
for n in (2, 3):
    print(explore(nolock, threads=n, machine="unicore").summary())
"""),
("md", """
Dropping `lock` does a second kind of damage. The Intel SDM says cmpxchg *always* writes its
destination: on failure it writes back the value it read. Without `lock`, that write-back can
land after the owner's release and put the stale 1 back: the lock is then held by nobody,
forever. Search the whole state space (`full=True`) to see it:
"""),
("code", """
r = explore(nolock, threads=2, full=True)
print(r.summary())
print(r.stuck.table())
"""),
("md", """
## Part 2 — real contention on this machine

Now real threads. The kernel `labkit/cas/kernel.c` (built by `make`, loaded with ctypes) runs
the seed's two listings in inline assembly, plus variants: `cas_pause` (pause in the spin),
`tas` (cmpxchg in a loop, no read-only spin), `tas_pause`, `cas_backoff` (exponential
backoff), and `mutex` (glibc's futex-based pthread mutex). Each thread loops: acquire,
increment a shared counter with a plain load and store, release. A lost update means two
threads were in the critical section at once. The timings vary from run to run, so these
cells' outputs are not checked; `bench/cas.py` runs the full, longer measurement.
"""),
("code-ignore", """
unsafe = max((contend.run("unsafe", 2, seconds=0.3) for _ in range(3)), key=lambda x: x.lost_updates)
safe = [contend.run(k, 2, seconds=0.2) for k in ("cas", "cas_pause", "tas", "cas_backoff", "mutex")]
print(f"unsafe: {unsafe.acquisitions} acquisitions, counter {unsafe.counter}, lost {unsafe.lost_updates}")
for s in safe:
    print(f"{s.kind:12s}: {s.acquisitions} acquisitions, counter {s.counter}, lost {s.lost_updates}")
assert unsafe.lost_updates > 0 and all(s.lost_updates == 0 for s in safe)
"""),
("code-ignore", """
pp, _ = contend.pingpong_ns(100_000)
kinds = ["unsafe", "cas", "cas_pause", "tas", "tas_pause", "cas_backoff", "mutex"]
cv = contend.curves(kinds, [1, 2, 3, 4, 6], seconds=0.05, repeats=1, on_progress=None)
print(f"cache-line ping-pong round trip between the two cores: {pp:.0f} ns")
print("mutex / cas throughput:", {n: round(cv["throughput"][("mutex", n)].throughput
                                          / cv["throughput"][("cas", n)].throughput, 1) for n in (1, 2, 3, 4, 6)})
plot_contention(cv, pingpong_ns=pp, cores=contend.cpus());
"""),
("md", """
What to look for (the numbers move between runs; the shapes do not):

* with one thread every lock is just a few uncontended instructions;
* at 2 threads the CAS locks pay a cache-line transfer whenever the lock changes cores; a
  contended handoff costs about one transfer (half to one ping-pong round trip, the dotted
  line), while the mutex's sleeping waiter needs a futex wake-up, several times more;
* past 2 threads (the core count, dashed) a spinning waiter can burn a whole time slice
  while the owner is preempted; the mutex instead puts waiters to sleep in the kernel;
* `tas` hammers the line with locked writes while waiting; test-and-test-and-set (`cas`)
  spins on a shared read and only writes when the lock looks free;
* the **mutex's throughput** is often above the spinning locks', on some machines many times
  above (hence the log axis on the left, which also keeps `unsafe`, far above everything, on the
  same plot). On this shared VM, in 0.2 s runs, glibc's mutex made 0.97–1.6 times the
  acquisitions of `cas` with 2 threads and 1.9–2.1 times with 4 (three runs each); the plot's
  0.05 s runs swing more (the line above it prints the ratio). That is not a faster handoff:
  glibc's mutex is **unfair**. Its unlock stores 0 and,
  if a waiter sleeps, wakes one with `futex(FUTEX_WAKE)` (futex(2)); nothing hands the lock to
  that waiter. The owner is still running with the lock's cache line in its own cache, so its
  next acquire (a `lock cmpxchg` on a free lock) succeeds long before the woken thread is
  scheduled, which then finds the lock taken and sleeps again. The owner thus runs long batches
  of acquisitions with no cache-line transfer at all (glibc `nptl/pthread_mutex_lock.c` and
  `lowlevellock.h`: lock and unlock are one atomic each, no queue). The spinning locks hand the
  line between cores far more often. The handoff panel on the right measures what one handoff
  costs, and there the mutex is the slow one; the next section measures a fair handoff.
"""),
("md", """
### What `cas_vs_oslock_2` in `bench/cas.py` shows, and why it used to swing

`cas_vs_oslock_2` compares the seed's `lock cmpxchg` lock with glibc's mutex, 2 threads on the
2 cores. It used to divide raw throughputs of the loop above (acquire, increment, release) and
read 0.24, 0.71 and 1.65 on different runs. That loop lets an owner take the lock again at once:
glibc's mutex puts its waiter to sleep in the kernel, so the owner runs long same-thread
batches, and its throughput measures how long the waiter happens to stay asleep (and whether
this shared machine preempted a spinner), not what a handoff costs.

The bench now measures a **fair handoff**: after a release a thread waits until the other one
has owned the lock, so every acquisition is a handoff. Threads are pinned to the two cores, each
time per acquisition is the median over batches of 64 acquisitions (a batch in which a thread
was preempted is an outlier, not the figure), and the locks alternate over interleaved rounds.
The figure is the mutex's time per handoff divided by the CAS lock's (above 1: the CAS lock
hands over faster), printed as a median with its quartiles and range; the raw-loop ratio is
printed beside it so you can see it swing. On this VM the fair figure stayed within 0.88–1.41
over the rounds of three runs (medians 0.97, 1.14, 1.18): handed over every time, the seed's
lock and glibc's mutex cost about the same, a few cache-line transfers, so the target of 1.0
is met in some runs and missed in others. The raw ratio in the same rounds spanned 0.5–2.
"""),
("md", """
## Exercise — fix a broken lock

A colleague "tidied" the seed's lock. The explorer runs it for 2 and 3 threads on a multi-core
machine:
"""),
("code", """
print(BROKEN_LOCK)
print(check_fix(BROKEN_LOCK))
"""),
("md", """
With 2 threads it never lets two in, but the first owner then spins forever on a lock it holds;
with 3 threads two of them get in. A lock has two jobs: **mutual exclusion** (never two threads
in the critical section) and **progress** (from every state, some thread can still get in). The
first alone is easy: a lock nobody can take has it.

**Your task:** in the next cell, set `my_fix` to a listing that does both jobs (the teacher's
edition shows a solution there). Try a few wrong ones too: remove `lock`, or compare with 1
instead of 0, and read the counterexample. The cell after it is graded: it proves mutual
exclusion for 2 and 3 threads, and prints the explorer's whole report.
"""),
("solution:lock-fix", """
my_fix = BROKEN_LOCK          # the colleague's listing: change it
### BEGIN SOLUTION
my_fix = \"\"\"
        mov edx,1
spin:   mov eax,[mutex]
        cmp eax,0
        jne spin                ; spin while the lock is taken
        lock cmpxchg [mutex],edx
        jnz spin                ; ZF=0: cmpxchg failed, somebody else got it
\"\"\"
### END SOLUTION
"""),
("check:lock-fix-check:2", """
report = check_fix(my_fix)
print(report)
assert report.exclusive, report.failure()
### BEGIN HIDDEN TESTS
# another angle: progress too (a lock nobody can take is exclusive), and a fourth thread
more = check_fix(my_fix, threads=(2, 3, 4))
assert more.passed, more.failure()
### END HIDDEN TESTS
"""),
("md", """
## Tear down

This notebook started no lab: every contention run joins its threads before it returns, and the
process runs joined their children. Only the figures are left to close.
"""),
("code", """
plt.close("all")
print("nothing left running")
"""),
]
