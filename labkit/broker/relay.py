"""`python -m labkit.broker.relay LAB NODE -- COMMAND...`: COMMAND in NODE of one's own lab LAB,
through the broker, on this process's own stdin, stdout and stderr; exits with its status.

It is what a student's lab gives as a node's command line (labkit.broker.student), so every
way a node runs something (`run`, `cmd`, `popen`, `call` and its pickled request, `capture`)
works unchanged, as the student and with nothing passing through the broker but the three
descriptors. A refusal prints the broker's message and exits 126 (as a shell does for a
command it cannot run).
"""
from __future__ import annotations

import sys

from .client import exec_with
from .protocol import BrokerError


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) < 4 or args[2] != "--":
        print("usage: python -m labkit.broker.relay LAB NODE -- COMMAND...", file=sys.stderr)
        return 2
    try:
        return exec_with(args[0], args[1], args[3:], 0, 1, 2)
    except BrokerError as e:
        print(f"labkit: {e}", file=sys.stderr)
        return 126


if __name__ == "__main__":
    sys.exit(main())
