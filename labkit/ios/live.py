"""`configure terminal` on a running device: the running config edited by typed lines.

`edit_running(running, lines, ...)` is the pure half of `IosService.configure`: it takes the
running config (the node's file plus earlier live changes) and the lines a student types,
and returns the new running config, parsed and checked in full, or raises before anything
changes:

- ValueError for a command that cannot change live (it would need the lab rebuilt), naming
  its line in the input;
- IosConfigError with every error of the new lines, each as `configure:N` (N: the line in
  the input), from the same parser as bring-up.

Live commands: `interface` blocks of switchport lines, `shutdown`/`no shutdown` and
descriptions, and the global `ip route ...` / `no ip route ...`. A new `ip route` line goes
at the end of the running config, as IOS shows it; `no ip route PREFIX MASK [NEXTHOP|IF]`
removes every route line that matches (with PREFIX MASK alone: every route to that prefix),
and one that matches nothing is an error, as IOS answers `%No matching route to delete`.
`end` ends the input, as it leaves configuration mode.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from labkit.diag import printable

from .errors import IosConfigError, ios_error
from .model import IosConfig, StaticRoute
from .parser import parse

INTERFACE_COMMANDS = ("interface", "switchport", "description", "shutdown", "exit")
CONFIGURE = "configure"   # the file name errors in typed lines carry


@dataclass
class Edit:
    text: list[str]        # the new running config, line by line
    end: int               # text[:end] is the old config (less removed routes); the new lines follow
    origin: list[int]      # the input line number of each new line (text[end:end+len(origin)])
    config: IosConfig      # `text` parsed
    routes: bool           # an `ip route` / `no ip route` line was typed: the routing table changes

    def input_line(self, line: int) -> int | None:
        """The input line a line of `text` came from (1-based both), or None for an old line."""
        i = line - self.end - 1
        return self.origin[i] if 0 <= i < len(self.origin) else None


def abbrev(word: str, keyword: str) -> bool:
    """IOS's abbreviations: `int` is `interface`, `sw` is `switchport` (two letters at least)."""
    return len(word) >= 2 and keyword.startswith(word.lower()) or word.lower() == keyword


def route_line(words: list[str]) -> str | None:
    """"add" for `ip route ...`, "remove" for `no ip route ...`, else None. `route` is
    written out: IOS has `ip routing` too, so `ip rout` would be ambiguous."""
    neg = bool(words) and words[0].lower() == "no"
    w = words[1:] if neg else words
    if len(w) >= 2 and w[0].lower() == "ip" and w[1].lower() == "route":
        return "remove" if neg else "add"
    return None


def end_of(running: list[str]) -> int:
    """Where new lines go: before the config's `end` line (else at its end)."""
    return max((i for i, l in enumerate(running) if l.strip() == "end"), default=len(running))


def parse_running(text: list[str], platform: str | None, layer3: bool, end: int,
                  origin: list[int] | None = None) -> IosConfig:
    """The running config parsed; IosConfigError with the errors, those of new lines (after
    line `end`) numbered as in the input to configure() (`origin`, else by position)."""
    cfg = parse("\n".join(text) + "\n", "running-config", platform, layer3)
    if cfg.errors:
        def where(d):
            if d.line <= end:
                return d
            i = d.line - end - 1
            return replace(d, file=CONFIGURE, line=origin[i] if origin and i < len(origin) else d.line - end)
        raise IosConfigError([where(d) for d in cfg.errors])
    return cfg


def _same(r: StaticRoute, want: StaticRoute, prefix_only: bool) -> bool:
    if r.network != want.network:
        return False
    if prefix_only:
        return True
    return (r.next_hop == want.next_hop and
            (r.interface.ios if r.interface else None) == (want.interface.ios if want.interface else None))


def edit_running(running: list[str], lines: str, platform: str | None, layer3: bool,
                 config_name: str = "the config file") -> Edit:
    """The running config after `lines` (see the module docstring); `running` is not changed."""
    end = end_of(running)
    head, tail = list(running[:end]), list(running[end:])
    new: list[str] = []
    origin: list[int] = []
    routes = False
    for n, raw in enumerate(lines.strip("\n").splitlines(), 1):
        words = raw.split()
        if not words or words[0].startswith("!"):
            continue
        if abbrev(words[0], "end"):
            break
        kind = route_line(words)
        if kind == "add":
            new.append(raw.strip())       # a global command: it leaves interface mode
            origin.append(n)
            routes = True
            continue
        if kind == "remove":
            _remove_route(head, new, origin, words[1:], n, raw.strip(), platform, layer3)
            routes = True
            continue
        cmd = words[1] if abbrev(words[0], "no") and len(words) > 1 else words[0]
        if not any(abbrev(cmd, kw) for kw in INTERFACE_COMMANDS):
            raise ValueError(f"line {n} '{printable(raw.strip(), 80)}': only interface switchport lines "
                             f"and 'ip route' lines can be changed live; put it in {config_name} and "
                             "bring the lab up again")
        new.append(raw.rstrip())
        origin.append(n)
    text = head + new + tail
    cfg = parse_running(text, platform, layer3, len(head), origin)
    return Edit(text, len(head), origin, cfg, routes)


def _remove_route(head: list[str], new: list[str], origin: list[int], route_words: list[str], n: int,
                  typed: str, platform: str | None, layer3: bool) -> None:
    """`no ip route ...` typed on input line n: drop the matching route lines from head/new."""
    prefix_only = len(route_words) == 4          # ip route PREFIX MASK: every route to it
    probe_line = " ".join(route_words + (["Null0"] if prefix_only else []))
    current = head + new
    probe = parse("\n".join(current + [probe_line]) + "\n", "running-config", platform, layer3)
    here = len(current) + 1
    mine = [d for d in probe.errors if d.line == here]
    if mine:
        raise IosConfigError([replace(d, file=CONFIGURE, line=n, text=typed) for d in mine])
    want = next((r for r in probe.routes if r.line == here), None)
    if want is None:      # an `ip route` the parser refused without an error on that line
        raise IosConfigError([ios_error(CONFIGURE, n, typed, "not a route this device can hold")])
    cfg = parse("\n".join(current) + "\n", "running-config", platform, layer3)
    hits = sorted((r.line for r in cfg.routes if _same(r, want, prefix_only)), reverse=True)
    if not hits:
        raise IosConfigError([ios_error(CONFIGURE, n, typed, "no matching route to delete (IOS: "
                                        "%No matching route to delete)",
                                        "compare with 'show ip route' and the running config's ip route lines")])
    for line in hits:         # from the bottom, so earlier indexes hold
        i = line - 1
        if i < len(head):
            del head[i]
        else:
            del new[i - len(head)]
            del origin[i - len(head)]
