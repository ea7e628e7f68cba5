"""Numbers read from untrusted text: a packet, a request, a config line.

``str.isdigit()`` and ``int()`` accept far more than any protocol labkit speaks: ``'²'``
passes ``isdigit()`` and then fails ``int()``; Arabic-Indic and other scripts' digits pass
both; a 5,000-digit string costs a big-integer conversion before ``int()`` refuses it (Python
stops at 4,300 digits with a ValueError nobody expected there).  SIP, HTTP, SDP and IOS all
define their numbers as ASCII ``DIGIT`` runs, so every number labkit takes off the wire or out
of a file goes through ``uint``: ASCII digits only, leading zeros allowed, at most ``limit``,
and a ``ValueError`` whose message quotes the input safely.
"""
from __future__ import annotations

from .diag import printable


def is_uint(text: str) -> bool:
    """True for a non-empty run of ASCII digits (nothing else: no sign, space or '²')."""
    return bool(text) and text.isascii() and text.isdigit()


def uint(text: str, limit: int, what: str = "number") -> int:
    """``text`` as a non-negative integer no greater than ``limit``; ValueError otherwise.

    The length is checked before the conversion, so a huge digit string costs nothing."""
    if not is_uint(text):
        raise ValueError(f"{what} is not a number of ASCII digits 0-9: '{printable(text, 20)}'")
    digits = text.lstrip("0") or "0"
    if len(digits) > len(str(limit)) or int(digits) > limit:
        raise ValueError(f"{what} is larger than {limit}: '{printable(text, 20)}'")
    return int(digits)


def count_arg(text: str) -> int:
    """An argparse type: a whole number of things, 1 or more (``--calls 5000``)."""
    import argparse
    try:
        value = uint(text, 10**9, "count")
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number from 1 to {10**9}")
    return value
