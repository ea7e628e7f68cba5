"""Asterisk's sip.conf and extensions.conf (a supported subset) -> a dial-plan model.

The seed's ACD post routed calls with Asterisk; labkit runs Kamailio, and
`labkit.pbx.kamailio` translates the model built here. `load()` reads both files and
returns a `Dialplan`, or raises `DialplanError` carrying every error found (and the
warnings); `lint()` returns the same diagnostics without raising. Every problem is a
`labkit.diag.Diagnostic` naming FILE:LINE, printed as one bounded line.

File syntax (both files; Asterisk's config syntax)
--------------------------------------------------
``[section]`` headers, ``key=value`` and ``key => value`` lines, ``;`` comments
(``\\;`` is a literal semicolon), blank lines, whitespace around tokens. A line before
the first header is an error (comments and blank lines excepted). Section names are
``[A-Za-z0-9_.-]{1,64}``. Refused, each with an error naming it: ``#include``/``#exec``,
templates (``[name](!)``), ``+=``, block comments (``;--`` ... ``--;``), a duplicate
section (compared case-insensitively, as Asterisk looks names up; reported once, its
body is not read further, nor that of a section with a bad header). Bytes: UTF-8 only,
through `labkit.textfile` (a UTF-8 BOM is dropped, CRLF is a line end; UTF-16, a NUL
byte or a byte that is not UTF-8 is one error with line and byte offset). Keys are
case-insensitive, as in Asterisk.

sip.conf
--------
``[general]`` may hold any key; each gets a warning (labkit ignores it). Every other
section is a peer with these keys:

- ``type`` (required): friend | peer | user.
- ``host`` (required): ``dynamic`` (the phone REGISTERs; `Peer.host` is None) or an
  IPv4 address (a static peer). Names are refused: labkit resolves nothing.
- ``port``: 1-65535, default 5060; on a dynamic peer it is accepted with a warning
  (the phone registers its own address and port).
- ``secret``: required for a dynamic peer (phones authenticate with digest).
- ``context`` (required) and ``subscribecontext``: must be contexts of extensions.conf.

A few common Asterisk peer keys that do not change routing (`IGNORED_PEER_KEYS`) are
accepted with a warning each; ``allow``/``disallow`` may repeat, as in Asterisk. Any
other key, and any duplicate key, is an error (the fix names the closest key).

extensions.conf
---------------
``[general]`` keys are ignored with a warning each; ``[globals]`` is an error. Every
other section is a context of ``exten => EXT,PRIO,APP`` lines; supported are

- ``exten => EXT,1,Dial(SIP/NAME)`` and ``exten => EXT,1,Dial(SIP/PEER/USER)``, where
  NAME, PEER and USER are each a literal ``[A-Za-z0-9_.*#+-]+`` or exactly
  ``${EXTEN}``. One device, no Dial options: ``Dial(SIP/x,30)`` is an error (decision:
  a timeout or option that silently did nothing in the lab would mislead), as are
  ``SIP/USER@PEER``, other technologies and other variables.
- ``exten => EXT,hint,SIP/NAME`` (one device).

The application name and the ``SIP`` technology are case-insensitive, as in Asterisk;
``hint`` is written in lower case. Any other priority (2, n, labels), application
(Answer, Queue, Goto, ...), caller-ID match (``EXT/CID``) and the keys ``same``,
``include``, ``switch``, ``ignorepat`` are errors that name what is unsupported. The same extension and priority twice in one
context is an error, also when written differently but equal to Asterisk (``_x.`` and
``_X.``, ``_[0-9]`` and ``_X``): Asterisk refuses the second one too.

EXT is a literal ``[0-9A-Za-z*#+]+`` or a pattern: ``_`` and then literal characters
of that set, ``X`` (0-9), ``Z`` (1-9), ``N`` (2-9) -- in either case, as Asterisk's
``_extension_match_core`` and its pattern-tree builder both read ``x``/``z``/``n`` as
``X``/``Z``/``N`` --, sets ``[...]`` of those characters with ranges inside one class
(``[1-3a-c]``; inside a set every character is literal), and ``.`` (one or more of
anything) or ``!`` (zero or more) as the last character. Refused: an empty pattern or
set, an unclosed ``[``, ``.``/``!`` before the end, and ``-`` outside a range (Asterisk
ignores it as "eye candy"; labkit keeps extensions plain).

Matching and Asterisk's order
-----------------------------
Asterisk ignores ``-`` in the dialled string; `dialled()` removes them, and
`Exten.regex` matches exactly the dialled strings Asterisk's pattern matches once
their ``-`` are removed. Literal letters and sets are case-sensitive, as in Asterisk.
The regex is a POSIX ERE, anchored ``^...$``, built only from literal characters,
bracket expressions with explicit members (digit runs as ``0-9``), ``[*]``/``[+]``,
``.+`` and ``.*``, so it means the same to regcomp(3) and to Python's re (a SIP user
part holds no line break, the one place ``.`` differs). Note: Kamailio's ``=~``
compiles with REG_ICASE; `Exten.needs_case_sensitive_match` says when that matters.

`Context.extens` is in Asterisk's order (`order_key`, after pbx.c's ``ext_cmp``): every
literal extension before any pattern (literals among themselves by character code);
patterns compared position by position, each position scored by how many characters
it admits, then by its lowest character (a literal character counts one, so it comes
before a set, which comes before N, Z, X when smaller), then by the characters
themselves; ``.`` after any set, ``!`` after ``.``, and the end of a pattern last, so
``_X.`` comes before ``_.``. `Context.match` returns the first extension in that order
that matches and has the wanted application, as Asterisk walks its extension list
looking for one with the wanted priority. So a literal such as ``*44`` is tried before
``_.`` wherever it is written, and is never shadowed by it. Under this order an earlier
extension can still match everything a later one does: ``_1!`` comes before ``_1``
(``!`` scores below the end of a pattern), a literal ``123`` before the pattern
``_123``, ``_.`` before ``_!`` (which then only adds the empty string, never dialled).

Warnings (Diagnostic.rule)
--------------------------
- ``catch-all``: a pattern that also matches Asterisk's special extensions ``h``
  (hangup) and/or ``i`` (invalid), as ``_.`` does; the seed itself warns against
  ``_.``. Fix: a narrower pattern such as ``_pho[n]e.`` or ``_X.``.
- ``wildcard-letter``: a pattern holding a lowercase ``x``/``z``/``n`` next to other
  letters (``_phone.``): Asterisk reads that ``n`` as N, a digit 2-9, so the pattern does
  not match ``phone1``. Fix: the letter as a set, ``_pho[n]e.``.
- ``unreachable``: an extension that an earlier one (same application, Asterisk's
  order) matches entirely, found exactly by comparing the two patterns position by
  position and by length (both are a product of per-position sets and a tail).
- ``ignored-key`` (sip.conf, extensions.conf ``[general]`` and the ignored peer keys),
  ``port-dynamic``.
"""
from __future__ import annotations

import difflib
import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path

from labkit import textfile
from labkit.diag import Diagnostic, DiagnosticError, Where, error, printable, unknown_key_fix, warning

EXTEN = "${EXTEN}"
DEFAULT_PORT = 5060
PEER_KEYS = ("type", "host", "port", "secret", "context", "subscribecontext")
PEER_TYPES = ("friend", "peer", "user")
#: Asterisk peer keys that do not change who may call whom: accepted, with a warning each
IGNORED_PEER_KEYS = ("disallow", "allow", "dtmfmode", "qualify", "nat", "callerid", "canreinvite",
                     "directmedia", "insecure", "language", "mailbox", "callgroup", "pickupgroup", "call-limit")
REPEATABLE_KEYS = ("allow", "disallow")   # Asterisk's list keys: each line adds codecs
SPECIAL_EXTENS = {"h": "hangup", "i": "invalid"}   # the seed's caution about _.

_SECTION = re.compile(r"[A-Za-z0-9_.-]{1,64}", re.ASCII)
_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_-]*", re.ASCII)
_LITERAL_EXT = re.compile(r"[0-9A-Za-z*#+]+", re.ASCII)
_DEVICE_NAME = re.compile(r"[A-Za-z0-9_.*#+-]+", re.ASCII)
_APP = re.compile(r"([A-Za-z][A-Za-z0-9_]*)\s*\((.*)\)", re.ASCII | re.S)
_COMMENT = re.compile(r"(?<!\\);")
_EXT_CHARS = frozenset("0123456789*#+abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_WILDCARDS = {"x": "0123456789", "z": "123456789", "n": "23456789"}
_CLASSES = ("0123456789", "abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_DOT, _BANG = ".", "!"
# Asterisk's scores for one pattern position (pbx.c ext_cmp_pattern_pos): a set of k
# characters scores k*256 + its lowest code; '.', '!' and the end of the pattern come last.
_SCORE_DOT, _SCORE_BANG, _SCORE_END = 0x18000, 0x28000, 0x30000


class DialplanError(DiagnosticError):
    """Raised by load(): `.diagnostics` holds every error (and the warnings), errors first."""

    def headline(self) -> tuple[Diagnostic, str]:
        """The first error, and how many more there are as text to append to it (or "")."""
        first = self.errors[0] if self.errors else self.first
        n = len(self.errors) - 1
        return first, (f" (and {n} more error{'s' if n > 1 else ''} in the dial plan; "
                       "labkit lint lists them)" if n > 0 else "")


@dataclass(frozen=True)
class Peer:
    """One sip.conf section other than [general]."""

    name: str
    host: str | None          # IPv4 address of a static peer; None for host=dynamic (it REGISTERs)
    port: int
    secret: str | None
    context: str
    subscribecontext: str | None
    where: Where
    type: str = "friend"      # friend | peer | user (a user cannot be dialled as SIP/PEER/USER)

    @property
    def dynamic(self) -> bool:
        return self.host is None


@dataclass(frozen=True)
class Dial:
    """Dial(SIP/NAME) -> Dial(NAME, None); Dial(SIP/PEER/USER) -> Dial(PEER, USER).

    Each field is a literal name or exactly EXTEN ("${EXTEN}", the dialled extension).
    """

    peer: str
    user: str | None = None

    def resolve(self, exten: str) -> tuple[str, str | None]:
        """(peer, user) with EXTEN replaced by `exten`."""
        def sub(v: str) -> str:
            return exten if v == EXTEN else v
        return sub(self.peer), (None if self.user is None else sub(self.user))

    def __str__(self) -> str:
        return f"SIP/{self.peer}" + (f"/{self.user}" if self.user is not None else "")


@dataclass(frozen=True)
class Exten:
    """One supported extensions.conf line: a priority-1 Dial or a hint."""

    pattern: str              # as written: "*44", "_X.", "_pho[n]e."
    regex: str                # POSIX ERE ^...$: exactly the dialled() strings the pattern matches
    app: str                  # "dial" or "hint"
    target: Dial              # for a hint, its device SIP/NAME as Dial(NAME)
    where: Where

    @property
    def is_pattern(self) -> bool:
        return self.pattern.startswith("_")

    @property
    def needs_case_sensitive_match(self) -> bool:
        """True when letter case decides a match (REG_ICASE, as Kamailio's =~, would widen it)."""
        return any(c.isalpha() for c in self.regex)

    def matches(self, exten: str) -> bool:
        """Does Asterisk match `exten` against this pattern? (See asterisk_match.)"""
        return asterisk_match(self.pattern, exten)


@dataclass(frozen=True)
class Context:
    name: str
    extens: tuple[Exten, ...]  # Asterisk's match order (order_key), dial before hint for equal patterns
    where: Where

    def match(self, exten: str, app: str = "dial") -> Exten | None:
        """The first extension, in Asterisk's order, with application `app` that matches `exten`."""
        for e in self.extens:
            if e.app == app and e.matches(exten):
                return e
        return None


@dataclass(frozen=True)
class Dialplan:
    peers: dict[str, Peer]
    contexts: dict[str, Context]
    warnings: tuple[Diagnostic, ...] = ()

    def route(self, peer: str, exten: str, subscribe: bool = False) -> Exten | None:
        """Where a call (or, with subscribe=True, a SUBSCRIBE) from `peer` to `exten` goes.

        A call is matched in the peer's context against its Dial lines; a SUBSCRIBE in its
        subscribecontext (else its context) against its hints. None: nothing matches. An
        unknown peer is a KeyError (a caller's mistake, not "no route").
        """
        p = self.peers[peer]
        ctx = self.contexts[(p.subscribecontext or p.context) if subscribe else p.context]
        return ctx.match(exten, "hint" if subscribe else "dial")


# ---------------------------------------------------------------- patterns

class _Bad(Exception):
    """One thing wrong in a token: (message, fix)."""


def dialled(exten: str) -> str:
    """The dialled string as Asterisk compares it: every '-' dropped ("eye candy")."""
    return exten.replace("-", "")


def _parse_set(body: str, pattern: str) -> frozenset[str]:
    """The characters of a set's inside; a-b is a range when a character follows the '-'."""
    if not body:
        raise _Bad(f"empty set '[]' in pattern '{printable(pattern)}'", "put the characters to match between [ and ]")
    chars: set[str] = set()
    k = 0
    while k < len(body):
        a = body[k]
        if k + 2 < len(body) and body[k + 1] == "-":   # Asterisk's rule for a range
            b = body[k + 2]
            cls = next((c for c in _CLASSES if a in c), None)
            if cls is None or b not in cls or a > b:
                raise _Bad(f"bad range '{printable(body[k:k + 3])}' in pattern '{printable(pattern)}'",
                           "a range joins two digits or two letters of one case, lowest first: [2-5], [a-c]")
            chars.update(cls[cls.index(a):cls.index(b) + 1])
            k += 3
            continue
        if a == "-":
            raise _Bad(f"'-' in set '[{printable(body)}]' of pattern '{printable(pattern)}' is not a range",
                       "Asterisk ignores '-' in a dialled number, so a set cannot match it: "
                       "write a range such as [2-5] or drop the '-'")
        if a not in _EXT_CHARS:
            raise _Bad(f"character '{printable(a)}' in set '[{printable(body)}]' of pattern "
                       f"'{printable(pattern)}' is not supported", "sets hold digits, letters, * # +")
        chars.add(a)
        k += 1
    return frozenset(chars)


def parse_pattern(ext: str) -> tuple:
    """The elements of an extension: a frozenset of characters per position, then "." or "!".

    A literal extension gives one single-character set per character. Raises _Bad.
    """
    if not ext.startswith("_"):
        if not _LITERAL_EXT.fullmatch(ext):
            bad = next((c for c in ext if c not in _EXT_CHARS), "")
            raise _Bad(f"'{printable(ext)}' is not an extension" + (f": character '{printable(bad)}'" if bad else ""),
                       "a literal extension is digits, letters, * # +; a pattern starts with '_'")
        return tuple(frozenset(c) for c in ext)
    body = ext[1:]
    if not body:
        raise _Bad("empty pattern '_'", "write what to match after the '_', e.g. _X.")
    out: list = []
    i = 0
    while i < len(body):
        c = body[i]
        if c in (_DOT, _BANG):
            if i != len(body) - 1:
                raise _Bad(f"'{c}' in the middle of pattern '{printable(ext)}': it matches the rest "
                           "of the number, so it must be the last character", f"move the '{c}' to the end")
            out.append(c)
        elif c == "[":
            end = body.find("]", i + 1)
            if end < 0:
                raise _Bad(f"unclosed '[' in pattern '{printable(ext)}'", "close the set with ']'")
            out.append(_parse_set(body[i + 1:end], ext))
            i = end
        elif c.lower() in _WILDCARDS:
            out.append(frozenset(_WILDCARDS[c.lower()]))
        elif c == "-":
            raise _Bad(f"'-' in pattern '{printable(ext)}'",
                       "remove it: Asterisk ignores '-' (\"eye candy\") and labkit keeps patterns plain")
        elif c in _EXT_CHARS:
            out.append(frozenset(c))
        else:
            raise _Bad(f"character '{printable(c)}' in pattern '{printable(ext)}' is not supported",
                       "patterns hold digits, letters, * # +, X Z N, [sets], and . or ! at the end")
        i += 1
    return tuple(out)


def _regex_set(chars: frozenset[str]) -> str:
    if len(chars) == 1:
        (c,) = chars
        return f"[{c}]" if c in "*+" else c
    members = sorted(chars)
    digits = [c for c in members if c.isdigit()]
    parts, run = [], []
    for d in digits + [None]:     # digit runs of 3 or more as a-b: the same in every locale
        if d is not None and run and ord(d) == ord(run[-1]) + 1:
            run.append(d)
            continue
        if run:
            parts.append(f"{run[0]}-{run[-1]}" if len(run) >= 3 else "".join(run))
        run = [d] if d is not None else []
    return "[" + "".join(parts) + "".join(c for c in members if not c.isdigit()) + "]"


def pattern_regex(ext: str) -> str:
    """The POSIX ERE (also a Python re) matching what Asterisk's `ext` matches (dialled strings).

    ValueError for an extension labkit does not accept.
    """
    try:
        elements = parse_pattern(ext)
    except _Bad as e:
        raise ValueError(e.args[0]) from None
    return _regex(elements)


def _regex(elements: tuple) -> str:
    parts = [".+" if e == _DOT else ".*" if e == _BANG else _regex_set(e) for e in elements]
    return "^" + "".join(parts) + "$"


def order_key(ext: str) -> tuple:
    """Sort key giving Asterisk's match order (see the module docstring); ValueError if invalid."""
    try:
        return _order_key(ext, parse_pattern(ext))
    except _Bad as e:
        raise ValueError(e.args[0]) from None


def _order_key(ext: str, elements: tuple) -> tuple:
    if not ext.startswith("_"):
        return (0, ext)
    scores = []
    for e in elements:
        if e == _DOT:
            scores.append((_SCORE_DOT, ()))
        elif e == _BANG:
            scores.append((_SCORE_BANG, ()))
        else:
            members = tuple(sorted(ord(c) for c in e))
            scores.append((len(members) * 256 + members[0], members))
    return (1, tuple(scores) + ((_SCORE_END, ()),))


def asterisk_match(pattern: str, exten: str) -> bool:
    """Does Asterisk's `pattern` match the dialled `exten`? The reference matcher.

    Written from Asterisk's matching rules directly on the pattern text (independently of
    parse_pattern and the regex, so tests can hold one against the other): '-' is skipped
    in the dialled string (and outside sets in the pattern); X/Z/N match 0-9/1-9/2-9 in
    either case; [..] holds characters and ranges a-b; '.' matches one or more of
    anything, '!' zero or more; any other character matches itself, case-sensitively.
    """
    if not pattern.startswith("_"):
        return dialled(pattern) == dialled(exten)
    p, d = pattern[1:], dialled(exten)
    i = j = 0
    while True:
        while i < len(p) and p[i] == "-":
            i += 1
        if i == len(p) or j == len(d):
            break
        c, ch = p[i], d[j]
        if c == "[":
            end = p.find("]", i + 1)
            if end < 0:
                return False
            body, k, hit = p[i + 1:end], 0, False
            while k < len(body) and not hit:
                if k + 2 < len(body) and body[k + 1] == "-":
                    hit = body[k] <= ch <= body[k + 2]
                    k += 3
                else:
                    hit = body[k] == ch
                    k += 1
            if not body:        # Asterisk skips an empty set
                i = end + 1
                continue
            if not hit:
                return False
            i = end
        elif c in "nN":
            if not "2" <= ch <= "9":
                return False
        elif c in "xX":
            if not "0" <= ch <= "9":
                return False
        elif c in "zZ":
            if not "1" <= ch <= "9":
                return False
        elif c in (_DOT, _BANG):
            return True
        elif c != ch:
            return False
        i += 1
        j += 1
    if j < len(d):
        return False
    return i == len(p) or p[i] == _BANG


def _covers(first: tuple, later: tuple) -> bool:
    """Does `first` match every non-empty string that `later` matches? (Elements of parse_pattern.)

    Both languages are products: a set per position, then nothing, '.' or '!'. So one
    includes the other exactly when its lengths do and, at every position the later one
    can fill, its set does (past its sets a pattern with a tail admits anything).
    """
    def split(elements: tuple) -> tuple[tuple, str]:
        tail = elements[-1] if elements and elements[-1] in (_DOT, _BANG) else ""
        return (elements[:-1] if tail else elements), tail

    sets_a, tail_a = split(first)
    sets_b, tail_b = split(later)
    m, n = len(sets_a), len(sets_b)
    shortest_a = m + (tail_a == _DOT)
    shortest_b = max(n + (tail_b == _DOT), 1)
    if not tail_b:
        lengths = (n == m) if not tail_a else n >= shortest_a
    else:
        lengths = bool(tail_a) and shortest_a <= shortest_b
    if not lengths:
        return False
    return all(i >= m or (i < n and sets_b[i] <= sets_a[i]) for i in range(max(m, n)))


def _example(body: str) -> str:
    """A string the writer of pattern `_body` probably meant it to match (for a warning)."""
    return re.sub(r"\[(.)[^\]]*\]|[XZN]|[.]|!",
                  lambda m: m.group(1) or {"X": "5", "Z": "5", "N": "5", ".": "1", "!": ""}[m.group()], body)


# ---------------------------------------------------------------- config syntax

@dataclass
class _Entry:
    where: Where
    key: str          # lower case
    raw_key: str
    value: str
    text: str


@dataclass
class _Section:
    name: str
    where: Where
    text: str
    registered: bool = True      # False: a duplicate or a bad header (reported); its body is not read
    entries: list[_Entry] = field(default_factory=list)


class _Report:
    def __init__(self) -> None:
        self.items: list[Diagnostic] = []

    def error(self, where: Where, message: str, fix: str = "", rule: str = "", text: str = "") -> None:
        self.items.append(error(where, message, fix, rule=rule, text=text))

    def warn(self, where: Where, message: str, fix: str = "", rule: str = "", text: str = "") -> None:
        self.items.append(warning(where, message, fix, rule=rule, text=text))


def _read_sections(path: Path, what: str, report: _Report) -> list[_Section] | None:
    """The sections of an Asterisk config file; None when it cannot be read as text."""
    try:
        text = textfile.read(path, what=what, fix=f"check the path of {what}",
                             binary_fix=f"give the path of {what} (a text file)")
    except DiagnosticError as e:
        report.items.extend(e.diagnostics)
        return None
    file = str(path)
    sections: list[_Section] = []
    seen: dict[str, _Section] = {}
    in_block = False
    for num, raw in enumerate(textfile.split_lines(text), start=1):
        where = Where(file, num)
        if in_block:             # the rest of a refused block comment: reported once, at its start
            in_block = "--;" not in raw
            continue
        m = _COMMENT.search(raw)
        content = (raw[:m.start()] if m else raw).replace("\\;", ";").strip()
        if m and raw.startswith(";--", m.start()) and not raw.startswith(";---", m.start()):
            report.error(where, "block comments (;-- ... --;) are not supported by labkit",
                         "start every comment line with ';' (or write ';---' for a rule)", "syntax", raw)
            in_block = "--;" not in raw[m.start() + 3:]
            continue
        if not content:
            continue
        if content.startswith("#"):
            report.error(where, f"'{printable(content.split()[0], 40)}' is not supported: labkit reads one file each",
                         "copy the included lines into this file", "include", raw)
            continue
        if content.startswith("["):
            sec = _header(content, where, raw, report)
            key = sec.name.lower()
            if sec.registered and key in seen:
                first = seen[key]
                report.error(where, f"duplicate section [{printable(sec.name)}]: [{printable(first.name)}] "
                             f"is at line {first.where.line}",
                             "merge the two sections (Asterisk names are case-insensitive)", "duplicate-section", raw)
                sec.registered = False
            elif sec.registered:
                seen[key] = sec
            sections.append(sec)
            continue
        if not sections:
            report.error(where, f"'{printable(content, 60)}' is outside a section",
                         "put it under a [section] header, or comment it out with ';'", "outside-section", raw)
            continue
        entry = _entry(content, where, raw, report)
        if entry is not None:
            sections[-1].entries.append(entry)
    return sections


def _header(content: str, where: Where, raw: str, report: _Report) -> _Section:
    end = content.find("]")
    name = content[1:end] if end > 0 else content[1:]
    sec = _Section(name, where, raw)
    rest = content[end + 1:].strip() if end > 0 else ""
    if end < 0:
        report.error(where, f"section header '{printable(content, 60)}' has no closing ']'",
                     "write it as [name]", "syntax", raw)
        sec.registered = False
    elif rest.startswith("("):
        report.error(where, f"templates ('[{printable(name, 60)}]{printable(rest, 20)}') are not supported",
                     "write every key in the section itself", "syntax", raw)
        sec.registered = False
    elif rest:
        report.error(where, f"text after the section header: '{printable(rest, 60)}'",
                     "put the key on a line of its own, or start a comment with ';'", "syntax", raw)
        sec.registered = False
    elif not _SECTION.fullmatch(name):
        report.error(where, f"section name '[{printable(name, 80)}]' is not supported",
                     "names are 1 to 64 letters, digits, '_', '.', '-'", "section-name", raw)
        sec.registered = False
    return sec


def _entry(content: str, where: Where, raw: str, report: _Report) -> _Entry | None:
    eq = content.find("=")
    if eq < 0:
        report.error(where, f"expected 'key = value' or a [section], not '{printable(content, 60)}'",
                     "write key=value, or comment the line out with ';'", "syntax", raw)
        return None
    key, value = content[:eq].strip(), content[eq + 1:]
    value = (value[1:] if value.startswith(">") else value).strip()
    if key.endswith("+"):
        report.error(where, f"'{printable(key[:-1].strip(), 40)} +=' is not supported",
                     "write the whole value with '='", "syntax", raw)
        return None
    if not _KEY.fullmatch(key):
        report.error(where, f"'{printable(key, 60)}' is not a key" if key else "no key before '='",
                     "write key=value; keys are letters, digits, '_' and '-'", "syntax", raw)
        return None
    return _Entry(where, key.lower(), key, value, raw)


def _closest(name: str, names) -> str:
    close = difflib.get_close_matches(name, sorted(names), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'? " if close else ""


# ---------------------------------------------------------------- sip.conf

@dataclass
class _PeerDraft:
    peer: Peer | None        # None: the section has errors
    keys: dict[str, _Entry]


def _ignored(entries: list[_Entry], section: str, report: _Report) -> None:
    for e in entries:
        report.warn(e.where, f"'{printable(e.raw_key, 40)}' in [{printable(section, 64)}] is ignored by labkit",
                    "remove it, or keep it knowing it changes nothing in the lab", "ignored-key", e.text)


def _sip_peers(sections: list[_Section], report: _Report) -> list[_PeerDraft]:
    drafts = []
    for sec in sections:
        if not sec.registered:
            continue      # a duplicate or a bad header: reported once, its body is not read further
        if sec.name.lower() == "general":
            _ignored(sec.entries, sec.name, report)
            continue
        keys: dict[str, _Entry] = {}
        for e in sec.entries:
            if e.key in PEER_KEYS or (e.key in IGNORED_PEER_KEYS and e.key not in REPEATABLE_KEYS):
                if e.key in keys:
                    report.error(e.where, f"duplicate key '{e.key}' in [{printable(sec.name)}]: it is at line "
                                 f"{keys[e.key].where.line}", "keep one of the two lines", "duplicate-key", e.text)
                    continue
                keys[e.key] = e
            if e.key in IGNORED_PEER_KEYS:
                _ignored([e], sec.name, report)
            elif e.key not in PEER_KEYS:
                report.error(e.where, f"unknown key '{printable(e.raw_key, 40)}' in peer [{printable(sec.name)}]",
                             unknown_key_fix(e.key, PEER_KEYS + IGNORED_PEER_KEYS), "unknown-key", e.text)
        drafts.append(_PeerDraft(_peer(sec, keys, report), keys))
    return drafts


def _peer(sec: _Section, keys: dict[str, _Entry], report: _Report) -> Peer | None:
    ok = True
    name = printable(sec.name)

    def bad(key: str, message: str, fix: str) -> None:
        nonlocal ok
        ok = False
        e = keys.get(key)
        report.error(e.where if e else sec.where, message, fix, key, e.text if e else sec.text)

    def value(key: str) -> str | None:
        return keys[key].value if key in keys else None

    kind = (value("type") or "").lower()
    if "type" not in keys:
        bad("type", f"peer [{name}] has no type=", "add type=friend (calls both ways), peer or user")
    elif kind not in PEER_TYPES:
        bad("type", f"type={printable(value('type'), 40)} in [{name}] is not friend, peer or user",
            "type=friend (calls both ways), type=peer or type=user")
    host_text = value("host")
    host: str | None = None
    if host_text is None:
        bad("host", f"peer [{name}] has no host=",
            "add host=dynamic (a phone that registers) or host=IPV4 (a static peer)")
    elif host_text.lower() != "dynamic":
        try:
            addr = ipaddress.IPv4Address(host_text)
            if addr.is_unspecified or addr.is_multicast or addr == ipaddress.IPv4Address("255.255.255.255"):
                raise ValueError
            host = str(addr)
        except ValueError:
            bad("host", f"host={printable(host_text, 60)} in [{name}] is not 'dynamic' or an IPv4 host address",
                "host=dynamic for a phone that registers, or the peer's IPv4 address (labkit resolves no names)")
    port = DEFAULT_PORT
    if "port" in keys:
        text = value("port") or ""
        if re.fullmatch(r"[0-9]{1,5}", text, re.ASCII) and 1 <= int(text) <= 65535:
            port = int(text)
            if host_text is not None and host_text.lower() == "dynamic":
                e = keys["port"]
                report.warn(e.where, f"port= is ignored for the dynamic peer [{name}]: it registers its own "
                            "address and port", "remove port=", "port-dynamic", e.text)
        else:
            bad("port", f"port={printable(text, 40)} in [{name}] is not a port number", "a number from 1 to 65535")
    secret = value("secret")
    if secret == "":
        bad("secret", f"secret= in [{name}] is empty", "give the peer its password, or remove the line")
    elif secret is None and host_text is not None and host_text.lower() == "dynamic":
        bad("secret", f"peer [{name}] registers (host=dynamic) but has no secret=",
            "add secret=PASSWORD: phones authenticate their REGISTER with digest")
    contexts = {}
    for key, required in (("context", True), ("subscribecontext", False)):
        text = value(key)
        if text is None:
            if required:
                bad(key, f"peer [{name}] has no context=",
                    "add context=NAME, the extensions.conf context its calls are routed in")
        elif not text:
            bad(key, f"{key}= in [{name}] is empty", "name an extensions.conf context")
        elif not _SECTION.fullmatch(text):
            bad(key, f"{key}={printable(text, 60)} in [{name}] is not a context name",
                "names are 1 to 64 letters, digits, '_', '.', '-'")
        else:
            contexts[key] = text
    if not ok:
        return None
    return Peer(sec.name, host, port, secret, contexts["context"], contexts.get("subscribecontext"),
                sec.where, kind)


# ---------------------------------------------------------------- extensions.conf

@dataclass
class _ExtenDraft:
    exten: Exten
    key: tuple               # (order_key, is a hint): sorts in Asterisk's order, equal for duplicates
    elements: tuple          # parse_pattern's


_UNSUPPORTED_KEYS = {
    "same": ("'same =>' is not supported", "write each line as exten => EXT,1,Dial(...) (labkit reads one priority)"),
    "include": ("'include =>' is not supported: labkit routes a peer in its one context",
                "copy the extensions of the included context into this one"),
    "switch": ("'switch =>' is not supported", "write the extensions here"),
    "lswitch": ("'lswitch =>' is not supported", "write the extensions here"),
    "eswitch": ("'eswitch =>' is not supported", "write the extensions here"),
    "ignorepat": ("'ignorepat =>' is not supported (labkit does no overlap dialling)", "remove the line"),
}


def _contexts(sections: list[_Section], report: _Report) -> tuple[dict[str, Context], list[_ExtenDraft]]:
    contexts: dict[str, Context] = {}
    all_drafts: list[_ExtenDraft] = []
    for sec in sections:
        if not sec.registered:
            continue      # a duplicate or a bad header: reported once, its body is not read further
        low = sec.name.lower()
        if low == "general":
            _ignored(sec.entries, sec.name, report)
            continue
        if low == "globals":
            report.error(sec.where, "[globals] (dial-plan variables) is not supported",
                         "write the values into the extension lines", "unsupported", sec.text)
            continue
        drafts: list[_ExtenDraft] = []
        taken: dict[tuple, _ExtenDraft] = {}
        for e in sec.entries:
            if e.key in _UNSUPPORTED_KEYS:
                message, fix = _UNSUPPORTED_KEYS[e.key]
                report.error(e.where, message, fix, "unsupported", e.text)
                continue
            if e.key != "exten":
                report.error(e.where, f"unknown key '{printable(e.raw_key, 40)}' in context [{printable(sec.name)}]",
                             unknown_key_fix(e.key, ("exten",)), "unknown-key", e.text)
                continue
            try:
                draft = _exten(e, report)
            except _Bad as bad:
                report.error(e.where, bad.args[0], bad.args[1], "exten", e.text)
                continue
            first = taken.get(draft.key)
            if first is not None:
                same = first.exten.pattern == draft.exten.pattern
                report.error(e.where, f"duplicate extension '{printable(draft.exten.pattern)}' "
                             f"{'hint' if draft.exten.app == 'hint' else 'priority 1'} in [{printable(sec.name)}]: "
                             + ("it" if same else f"'{printable(first.exten.pattern)}', the same to Asterisk,")
                             + f" is at line {first.exten.where.line}", "keep one of the two lines",
                             "duplicate-exten", e.text)
                continue
            taken[draft.key] = draft
            drafts.append(draft)
        all_drafts += drafts
        ordered = sorted(drafts, key=lambda d: d.key)
        _unreachable(ordered, report)
        contexts[sec.name] = Context(sec.name, tuple(d.exten for d in ordered), sec.where)
    return contexts, all_drafts


def _unreachable(ordered: list[_ExtenDraft], report: _Report) -> None:
    """Warn about each extension an earlier one of the same application matches entirely."""
    for k, later in enumerate(ordered):
        for first in ordered[:k]:
            if first.exten.app == later.exten.app and _covers(first.elements, later.elements):
                x, f = later.exten, first.exten
                report.warn(x.where, f"extension '{printable(x.pattern)}' can never match: "
                            f"'{printable(f.pattern)}' (line {f.where.line}) comes first in Asterisk's order "
                            "and matches everything it does", "remove this line, or narrow the earlier one",
                            "unreachable")
                break


def _exten(e: _Entry, report: _Report) -> _ExtenDraft:
    """One exten => line; raises _Bad (message, fix) for what labkit does not support."""
    parts = e.value.split(",", 2)
    if len(parts) < 3:
        raise _Bad(f"expected 'exten => EXTENSION,PRIORITY,APPLICATION', not '{printable(e.value, 60)}'",
                   "for example: exten => 100,1,Dial(SIP/phone1)")
    ext, prio, app = (p.strip() for p in parts)
    if "/" in ext:
        raise _Bad(f"caller-ID matching ('{printable(ext, 60)}') is not supported", "remove the '/' and what follows")
    elements = parse_pattern(ext)
    if prio == "hint":
        target, kind = _device(app, hint=True), "hint"
    elif prio == "1":
        m = _APP.fullmatch(app)
        if not m:
            raise _Bad(f"expected APPLICATION(ARGUMENTS) after '{printable(ext, 40)},1,', not "
                       f"'{printable(app, 60)}'", "write Dial(SIP/NAME)")
        if m.group(1).lower() != "dial":
            raise _Bad(f"application {printable(m.group(1), 40)}() is not supported: labkit reads Dial(SIP/...) "
                       "and hints", "route the call with Dial(SIP/NAME) or Dial(SIP/PEER/USER)")
        target, kind = _device(m.group(2), hint=False), "dial"
    else:
        raise _Bad(f"priority '{printable(prio, 40)}' is not supported: labkit reads priority 1 "
                   "(one Dial per extension) and hint", "give each extension one line: EXT,1,Dial(...)")
    body = ext[1:]
    if ext.startswith("_"):
        matched = [s for s in SPECIAL_EXTENS if asterisk_match(ext, s)]
        if matched:
            names = " and ".join(f"{s} ({SPECIAL_EXTENS[s]})" for s in matched)
            report.warn(e.where, f"pattern '{printable(ext)}' also matches Asterisk's special "
                        f"extension{'s' if len(matched) > 1 else ''} {names}, so it is discouraged",
                        "a narrower pattern such as _pho[n]e. or _X.", "catch-all", e.text)
        outside = re.sub(r"\[[^\]]*\]", "", body)
        if any(c in "xzn" for c in outside) and any(c.isalpha() and c.lower() not in "xzn" for c in outside):
            letter = next(c for c in outside if c in "xzn")
            fix = re.sub(r"\[[^\]]*\]|[xzn]", lambda m: m.group() if len(m.group()) > 1 else f"[{m.group()}]", body)
            report.warn(e.where, f"in pattern '{printable(ext)}' a lowercase '{letter}' is Asterisk's "
                        f"{letter.upper()} (a digit), not a letter, so it does not match "
                        f"'{printable(_example(body))}'", f"write the letter as a set: _{printable(fix)}",
                        "wildcard-letter", e.text)
    ex = Exten(ext, _regex(elements), kind, target, e.where)
    return _ExtenDraft(ex, (_order_key(ext, elements), kind == "hint"), elements)


def _device(text: str, hint: bool) -> Dial:
    """SIP/NAME (and, for Dial, SIP/PEER/USER) -> Dial; raises _Bad."""
    what = "hint" if hint else "Dial"
    text = text.strip()
    if any(c in text for c in ",|"):
        raise _Bad(f"{what} arguments '{printable(text, 60)}': labkit reads one device and no options",
                   f"write {'SIP/NAME' if hint else 'Dial(SIP/NAME)'} alone"
                   + ("" if hint else " (labkit rings until the caller or the callee ends the call)"))
    if "&" in text:
        raise _Bad(f"several devices in '{printable(text, 60)}' are not supported", "name one SIP/ device")
    tech, slash, rest = text.partition("/")
    if not slash or tech.upper() != "SIP":
        raise _Bad(f"device '{printable(text, 60)}' is not SIP/...: labkit reads chan_sip devices only",
                   "write SIP/NAME, NAME a sip.conf peer or a registered user")
    names = rest.split("/")
    if len(names) > (1 if hint else 2):
        raise _Bad(f"device '{printable(text, 60)}' has too many parts",
                   "a hint names SIP/NAME" if hint else "write SIP/NAME or SIP/PEER/USER")
    for n in names:
        if n == EXTEN:
            continue
        if "@" in n:
            raise _Bad(f"'{printable(text, 60)}': SIP/USER@PEER is not supported",
                       "write SIP/PEER/USER" if not hint else "a hint names SIP/NAME")
        if "${" in n:
            raise _Bad(f"'{printable(n, 60)}' in '{printable(text, 60)}': only the whole ${{EXTEN}} is supported",
                       "write a name or exactly ${EXTEN}")
        if not _DEVICE_NAME.fullmatch(n):
            raise _Bad(f"'{printable(n, 60)}' in '{printable(text, 60)}' is not a peer or user name",
                       "names are letters, digits and _ . * # + -, or exactly ${EXTEN}")
    return Dial(names[0], names[1] if len(names) == 2 else None)


# ---------------------------------------------------------------- both files

def _cross_check(peers: list[_PeerDraft], contexts: dict[str, Context], extens: list[_ExtenDraft],
                 report: _Report) -> None:
    for d in peers:
        if d.peer is None:
            continue
        for key in ("context", "subscribecontext"):
            name = getattr(d.peer, key)
            if name is not None and name not in contexts:
                e = d.keys[key]
                report.error(e.where, f"{key}={printable(name)} of peer [{printable(d.peer.name)}] is not a "
                             "context of extensions.conf",
                             _closest(name, contexts) + f"add [{printable(name)}] to extensions.conf",
                             "missing-context", e.text)
    known = {d.peer.name: d.peer for d in peers if d.peer is not None}
    for x in extens:
        dial = x.exten.target
        if dial.user is None or dial.peer == EXTEN:
            continue     # SIP/NAME may be an AOR in the registrar: only SIP/PEER/USER needs a peer
        peer = known.get(dial.peer)
        if peer is None:
            report.error(x.exten.where, f"Dial({printable(dial)}): '{printable(dial.peer)}' is not a peer of sip.conf",
                         _closest(dial.peer, known) + f"add [{printable(dial.peer)}] to sip.conf",
                         "unknown-peer")
        elif peer.type == "user":
            report.error(x.exten.where, f"Dial({printable(dial)}): [{printable(dial.peer)}] is type=user, "
                         "which cannot be called", f"make [{printable(dial.peer)}] type=friend or type=peer",
                         "unknown-peer")


def _check(sip_conf: str | Path, extensions_conf: str | Path) -> tuple[Dialplan | None, list[Diagnostic]]:
    report = _Report()
    sip_sections = _read_sections(Path(sip_conf), "sip.conf", report)
    ext_sections = _read_sections(Path(extensions_conf), "extensions.conf", report)
    peers = _sip_peers(sip_sections, report) if sip_sections is not None else []
    contexts, extens = _contexts(ext_sections, report) if ext_sections is not None else ({}, [])
    if sip_sections is not None and ext_sections is not None:
        _cross_check(peers, contexts, extens, report)
    order = {str(Path(sip_conf)): 0, str(Path(extensions_conf)): 1}
    items = sorted(report.items, key=lambda d: (not d.is_error, order.get(d.file, 2), d.line))
    if any(d.is_error for d in items):
        return None, items
    plan = Dialplan({d.peer.name: d.peer for d in peers if d.peer is not None},
                    contexts, tuple(items))
    return plan, items


def load(sip_conf: str | Path, extensions_conf: str | Path) -> Dialplan:
    """Both files -> Dialplan; DialplanError with every error (and the warnings) otherwise."""
    plan, items = _check(sip_conf, extensions_conf)
    if plan is None:
        raise DialplanError(items)
    return plan


def lint(sip_conf: str | Path, extensions_conf: str | Path) -> list[Diagnostic]:
    """Never raises: the errors and warnings load() would raise, or the warnings of a good plan."""
    return _check(sip_conf, extensions_conf)[1]
