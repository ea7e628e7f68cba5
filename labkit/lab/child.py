"""Child side of LabNode.call: read (function, args) pickled on stdin, run it, pickle the result.

The child runs inside a lab namespace, so the safety guard passes here and only
here; anything it prints goes to stderr to keep stdout for the result.
"""
from __future__ import annotations

import importlib
import pickle
import sys
import traceback


def main() -> None:
    func, args, kwargs = pickle.loads(sys.stdin.buffer.read())
    real_stdout = sys.stdout.buffer
    sys.stdout = sys.stderr
    try:
        module, _, name = func.partition(":")
        result = (True, getattr(importlib.import_module(module), name)(*args, **kwargs))
    except BaseException:  # report everything, including SystemExit, to the parent
        result = (False, traceback.format_exc())
    try:
        data = pickle.dumps(result)
    except Exception:
        data = pickle.dumps((False, f"the result of {func} cannot be pickled: {result[1]!r:.300}"))
    real_stdout.write(data)
    real_stdout.flush()


if __name__ == "__main__":
    main()
