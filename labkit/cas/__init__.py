"""labkit.cas: the seed's "Implementing your own mutex with cmpxchg" post, runnable.

Two halves:

* an interleaving explorer (asm.py, machine.py, explore.py, trace.py) that reads the
  post's x86 listings as written and searches every interleaving of N threads: the shortest
  race for the unsafe lock, a proof for the ``lock cmpxchg`` lock, the race again without
  ``lock`` on a multi-core machine (the notebook's exercise checker and drawings are in
  labkit.lessons.cas);
* a contention benchmark (kernel.c, contend.py) in which real threads on this machine's cores
  fight over locks built on the real ``lock cmpxchg``, next to futex mutexes and
  ``multiprocessing.Lock``.
"""
from .asm import SUBSET, AsmError, Program, parse
from .explore import Result, drop_lock, explore, replay, seed_listing
from .trace import Trace

__all__ = ["SUBSET", "AsmError", "Program", "parse", "Result", "explore", "drop_lock",
           "seed_listing", "replay", "Trace"]
