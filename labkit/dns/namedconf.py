"""A small reader for named.conf: just enough to find zone statements with their lines.

Why: the seed's ``named.conf`` is a bare zone statement. labkit includes that text
verbatim in the named.conf it renders (so students see their own file run), and needs to
know the zone name and the zone file it points at (to copy the file into the run
directory, to lint it, and to serve the same zone from the embedded server).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from .zone import SourceError


class NamedConfError(SourceError):
    """A named.conf whose statements cannot be read."""


@dataclass
class ZoneStanza:
    """One ``zone "name" [class] { ... };`` statement."""

    name: str
    zclass: str
    options: dict[str, list[str]]     # option -> its value tokens
    line: int                         # line of the ``zone`` keyword
    option_lines: dict[str, int] = field(default_factory=dict)
    text: str = ""                    # the statement exactly as written

    @property
    def type(self) -> str:
        return (self.options.get("type") or [""])[0]

    @property
    def file(self) -> str | None:
        v = self.options.get("file")
        return v[0] if v else None


_TOKEN = re.compile(r'"((?:[^"\\]|\\.)*)"|([{};])|([^\s{};"]+)')


def _strip_comments(text: str) -> str:
    """Blank out comments (``//``, ``#``, ``/* */``) but keep newlines so lines stay right."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith("//", i) or c == "#":
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _tokens(text: str):
    for m in _TOKEN.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        if m.group(1) is not None:
            yield m.group(1), line, m.start(), True
        else:
            yield m.group(2) or m.group(3), line, m.start(), False


def parse_zones(text: str, path: str = "<memory>") -> list[ZoneStanza]:
    """Return the zone statements of a named.conf; raises NamedConfError on broken syntax."""
    clean = _strip_comments(text)
    toks = list(_tokens(clean))
    zones: list[ZoneStanza] = []
    depth = 0
    i = 0
    while i < len(toks):
        tok, line, pos, quoted = toks[i]
        if tok == "{" and not quoted:
            depth += 1
        elif tok == "}" and not quoted:
            depth -= 1
            if depth < 0:
                raise NamedConfError(path, line, "'}' without a matching '{'", "remove the stray '}'")
        elif depth == 0 and tok == "zone" and not quoted:
            z, i = _parse_zone(toks, i, path, text)
            zones.append(z)
            continue
        i += 1
    if depth > 0:
        raise NamedConfError(path, toks[-1][1] if toks else 1, "a '{' is never closed", "add the missing '};'")
    return zones


def _parse_zone(toks, i, path, text):
    start_line, start_pos = toks[i][1], toks[i][2]
    if i + 1 >= len(toks):
        raise NamedConfError(path, start_line, "zone statement without a name", 'write zone "example.ca" { ... };')
    name = toks[i + 1][0].rstrip(".").lower() or "."
    j = i + 2
    zclass = "IN"
    if j < len(toks) and toks[j][0] != "{":
        zclass = toks[j][0].upper()
        j += 1
    if j >= len(toks) or toks[j][0] != "{":
        raise NamedConfError(path, start_line, f'zone "{name}" has no {{ ... }} block', 'write zone "x" { type master; file "x"; };')
    j += 1
    options: dict[str, list[str]] = {}
    option_lines: dict[str, int] = {}
    cur: list = []
    depth = 1
    while j < len(toks):
        tok, line, pos, quoted = toks[j]
        if not quoted and tok == "{":
            depth += 1
        elif not quoted and tok == "}":
            depth -= 1
            if depth == 0:
                break
        elif not quoted and tok == ";" and depth == 1:
            if cur:
                options[cur[0][0]] = [t[0] for t in cur[1:]]
                option_lines[cur[0][0]] = cur[0][1]
            cur = []
        elif depth == 1:
            cur.append((tok, line))
        j += 1
    if depth != 0:
        raise NamedConfError(path, start_line, f'zone "{name}" block is never closed', "add the missing '};'")
    if cur:
        raise NamedConfError(path, cur[0][1], f"option '{cur[0][0]}' is missing its ';'", "end each option with ';'")
    end_line = toks[j][1]
    k = j + 1
    if k >= len(toks) or toks[k][0] != ";":
        raise NamedConfError(path, end_line, f'zone "{name}" statement is missing the ";" after "}}"', "write '};'")
    end_pos = toks[k][2] + 1
    return ZoneStanza(name, zclass, options, start_line, option_lines, text[start_pos:end_pos]), k + 1


def load_zones(path: str | Path) -> list[ZoneStanza]:
    p = Path(path)
    return parse_zones(p.read_text(), str(p))
