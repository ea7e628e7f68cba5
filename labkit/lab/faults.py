"""Link faults: take a link down, make it lose packets, or slow it down, without netem.

This kernel has no netem (docs/machine.md), so labkit emulates what it can with what it has:

* **down/up**: ``ip link set dev IF down`` on both ends of the link (the veth peer loses
  carrier too, as with a pulled cable). ``up`` brings up exactly the ends ``down`` took
  down, so an interface a config shut (``shutdown`` in IOS) stays shut. The kernel deletes
  every route through an interface that goes down (a host's default route, a router's
  static routes), where IOS keeps them configured; so ``down`` records them and ``up``
  puts them back (connected routes come back by themselves).
* **loss**: an nftables rule ``numgen random mod 10000 < N drop`` in the node's own
  ``netdev`` table ``labkit_faults``. A fault on the direction A -> B drops at the
  *ingress* of B's end: a silent loss, like a lossy wire. (At A's egress the sender's
  own sockets would be told about each drop, and ping, for one, just sends the packet
  again.) The one exception is a receiving end that is a port of a node's private Open
  vSwitch: its userspace datapath reads frames from a packet socket, before the ingress
  hook, so there the rule sits on A's egress instead, and *steals* the frame rather than
  dropping it (``fwd to "lo"``: the sender is told it was sent; the loopback device drops
  it, as a frame for another host's MAC). Resolution 0.01 %; 100 % is the verdict
  alone, with no ``numgen`` (it draws 0..9999, so nft refuses ``< 10000``).
* **rate**: a TBF qdisc on A's end (``tc qdisc replace dev IF root tbf rate R``): the
  direction A -> B is shaped to R (counted on whole Ethernet frames, so TCP's goodput is
  about 5 % below R).
* **delay, jitter** (and anything else only netem can do) are refused, with the reason.

Direction: ``labkit link A B --loss 5%`` impairs what A sends to B, which is what a ping
or an iperf3 client on A's side measures (a round trip then loses about 5 %, not 10 %).
``--both`` (``both=True``) impairs B -> A the same way.

Faults live inside the lab's namespaces, so deleting the namespaces (``down``, ``clean``)
undoes them and nothing else needs to be removed. What was set is kept in the lab's run
directory (``/run/labkit/INSTANCE/faults.json``, removed with it) so that ``labkit status``
and ``Lab.status()`` can show it from any process. The record is written before the
change is made, under a lock, and every value is validated before either.
"""
from __future__ import annotations

import fcntl
import json
import math
import re
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Protocol

from .errors import LabkitError, LabStateError
from .model import Endpoint, Link, Topology


class Lab(Protocol):
    """What faults need of a running lab (runtime.Lab; not imported: runtime imports this)."""
    topo: Topology
    instance: str
    state: Any

    @property
    def run_dir(self) -> Path: ...

    def node(self, name: str) -> Any: ...

__all__ = ["FaultError", "LinkFaults", "parse_loss", "parse_rate", "format_rate", "resolve_link",
           "render_nft", "tbf_argv", "refuse_netem", "status", "TABLE", "NETEM_ONLY"]

TABLE = "labkit_faults"
RECORD = "faults.json"
LOSS_STEPS = 10_000            # numgen's modulus: loss in steps of 0.01 %
RATE_UNITS = {"bit": 1, "kbit": 10**3, "mbit": 10**6, "gbit": 10**9}
RATE_MIN, RATE_MAX = 8_000, 100 * 10**9     # 8 kbit/s .. 100 gbit/s
TBF_LATENCY = "50ms"           # how long a packet may wait in the TBF queue before it is dropped
#: what only netem can do: refused with the reason, never silently ignored
NETEM_ONLY = ("delay", "jitter", "duplicate", "corrupt", "reorder")


class FaultError(LabkitError):
    """A link fault was refused (bad value, unknown node or link, no netem); one line."""


# -- validation (pure) ----------------------------------------------------------------
def parse_loss(value: object) -> float:
    """A loss as a fraction 0..1 from a number (a fraction: 0.05) or a string with a per cent
    sign ("5%", "0.25 %"). Strings without % are refused, so 5 and "5" never mean 5 %."""
    if isinstance(value, bool):
        raise FaultError(f"loss {value!r} is not a number (a fraction 0..1, or a percentage like '5%')")
    if isinstance(value, (int, float)):
        frac = float(value)
        if not math.isfinite(frac) or not 0 <= frac <= 1:
            raise FaultError(f"loss {value!r} is outside 0..1 (a number is a fraction: 0.05 is 5%; "
                             f"or give a string like '5%')")
    elif isinstance(value, str):
        m = re.fullmatch(r"\s*([-+]?\s*(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))\s*%\s*", value)
        if not m:
            raise FaultError(f"loss {value!r} is not a percentage (write it like 5% or 0.5%)")
        pct = float(m.group(1).replace(" ", ""))
        if not 0 <= pct <= 100:
            raise FaultError(f"loss {value} is outside 0-100%")
        frac = pct / 100
    else:
        raise FaultError(f"loss {value!r} is not a number or a percentage like '5%'")
    steps = frac * LOSS_STEPS
    if abs(steps - round(steps)) > 1e-6:
        raise FaultError(f"loss {value!r} is finer than 0.01%, the resolution of the nftables rule "
                         "(numgen random mod 10000)")
    return round(steps) / LOSS_STEPS


def parse_rate(value: object) -> int:
    """A rate in bit/s from an int (bit/s) or a string NUMBER UNIT with UNIT bit, kbit, mbit or
    gbit (SI: 1 mbit = 10^6 bit/s; case does not matter). Byte units are refused: tc reads
    "mbps" as megabytes per second, which is easy to misread as megabits."""
    if isinstance(value, bool):
        raise FaultError(f"rate {value!r} is not a rate (write it like 10mbit)")
    if isinstance(value, int):
        bits = value
    elif isinstance(value, str):
        m = re.fullmatch(r"\s*([-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))\s*([A-Za-z/]*)\s*", value)
        if not m:
            raise FaultError(f"rate {value!r} is not a rate (write it like 10mbit; units: "
                             f"{', '.join(RATE_UNITS)})")
        number, unit = float(m.group(1)), m.group(2).lower()
        if unit in ("bps", "kbps", "mbps", "gbps", "b/s", "kb/s", "mb/s", "gb/s"):
            raise FaultError(f"rate {value!r}: '{m.group(2)}' is ambiguous (tc reads it as bytes per "
                             "second); give bits per second, e.g. 10mbit")
        if unit not in RATE_UNITS:
            raise FaultError(f"rate {value!r} has no known unit (units: {', '.join(RATE_UNITS)}; "
                             "e.g. 10mbit)")
        bits = round(number * RATE_UNITS[unit])
    else:
        raise FaultError(f"rate {value!r} is not a rate (write it like 10mbit)")
    if not RATE_MIN <= bits <= RATE_MAX:
        raise FaultError(f"rate {value!r} is outside {format_rate(RATE_MIN)}-{format_rate(RATE_MAX)}")
    return bits


def format_rate(bits: int) -> str:
    """The shortest exact tc spelling of a rate: 10000000 -> '10mbit'."""
    for unit in ("gbit", "mbit", "kbit"):
        if bits % RATE_UNITS[unit] == 0:
            return f"{bits // RATE_UNITS[unit]}{unit}"
    return f"{bits}bit"


def format_loss(frac: float) -> str:
    return f"{frac * 100:.2f}".rstrip("0").rstrip(".") + "%"


def refuse_netem(**options: object) -> None:
    """Refuse delay, jitter and netem's other impairments, saying why (one line)."""
    asked = [k for k in NETEM_ONLY if options.get(k) not in (None, "", 0, False)]
    if asked:
        raise FaultError(f"{' and '.join(asked)} cannot be emulated here: this kernel has no netem "
                         "(the qdisc that delays, jitters and reorders packets); loss and rate work "
                         "(docs/machine.md)")


def _endpoint(word: str) -> tuple[str, str | None]:
    node, _, intf = word.partition(":")
    return node, (intf or None)


def resolve_link(topo: Topology, a: str, b: str) -> tuple[Link, Endpoint, Endpoint]:
    """The one link joining node (or NODE:IFACE) `a` and `b`, and its two ends as the user
    ordered them: (link, end at a, end at b). One clear error otherwise."""
    (na, ia), (nb, ib) = _endpoint(a), _endpoint(b)
    for node in (na, nb):
        if node not in topo.nodes:
            raise FaultError(f"no node '{node}' in {topo.path.name} (nodes: {', '.join(topo.nodes)})")
    for node, intf in ((na, ia), (nb, ib)):
        if intf is not None and intf not in topo.nodes[node].interfaces:
            raise FaultError(f"{node} has no interface '{intf}' "
                             f"(interfaces: {', '.join(topo.nodes[node].interfaces)})")
    if na == nb:
        raise FaultError(f"a link joins two different nodes; got {a} and {b}")
    found = []
    for link in topo.links:
        for x, y in ((link.a, link.b), (link.b, link.a)):
            if x.node == na and y.node == nb and ia in (None, x.intf) and ib in (None, y.intf):
                found.append((link, x, y))
    if not found:
        theirs = [f"{l.a} -- {l.b}" for l in topo.links if na in (l.a.node, l.b.node)]
        raise FaultError(f"no link joins {a} and {b} in {topo.path.name} "
                         f"({na}'s links: {', '.join(theirs) or 'none'})")
    if len(found) > 1:
        raise FaultError(f"{len(found)} links join {na} and {nb} ({', '.join(f'{x} -- {y}' for _, x, y in found)}); "
                         f"name one as {na}:IFACE {nb}:IFACE")
    return found[0]


# -- rendering (pure) -------------------------------------------------------------------
@dataclass(frozen=True)
class DropRule:
    hook: str          # "ingress" | "egress"
    device: str        # the interface inside the node's namespace
    loss: float        # fraction 0..1
    comment: str       # which direction of which link


def loss_match(loss: float) -> str:
    """The match that picks `loss` (0..1) of the packets: numgen draws 0..LOSS_STEPS-1, so
    `< N` takes N in LOSS_STEPS; 100 % is every packet, no draw at all (numgen has no value
    LOSS_STEPS to compare with: nft refuses `< 10000` as out of its range)."""
    steps = round(loss * LOSS_STEPS)
    if not 0 <= steps <= LOSS_STEPS:
        raise ValueError(f"loss {loss!r} is outside 0..1")
    return "" if steps == LOSS_STEPS else f"numgen random mod {LOSS_STEPS} < {steps} "


def render_nft(rules: list[DropRule]) -> str:
    """The `nft -f` script that makes the node's fault table hold exactly `rules`.

    It creates, deletes and recreates its own table in one transaction (so it works whether
    or not the table exists, and no other table of the node is touched); with no rules it
    leaves no table at all. Chains are named by number: interface names such as fa0-0.10 are
    not nft identifiers."""
    lines = [f"table netdev {TABLE}", f"delete table netdev {TABLE}"]
    if rules:
        lines.append(f"table netdev {TABLE} {{")
        for i, r in enumerate(rules):
            if r.hook not in ("ingress", "egress"):
                raise ValueError(f"hook {r.hook!r}")
            if not re.fullmatch(r"[A-Za-z0-9_.\-]{1,15}", r.device):
                raise ValueError(f"interface name {r.device!r}")
            comment = r.comment.replace('"', "'")[:120]
            verdict = "drop" if r.hook == "ingress" else 'fwd to "lo"'   # see the module's doc
            lines += [f"  chain {r.hook}{i} {{",
                      f'    type filter hook {r.hook} device "{r.device}" priority 0; policy accept;',
                      f'    {loss_match(r.loss)}counter {verdict} comment "{comment}"',
                      "  }"]
        lines.append("}")
    return "\n".join(lines) + "\n"


def tbf_burst(bits: int) -> int:
    """TBF's bucket in bytes: 4 ms at the rate, and at least two full frames."""
    return max(2 * 1514 + 100, bits // 8 * 4 // 1000)


def tbf_argv(device: str, bits: int | None) -> list[str]:
    """The tc command that shapes `device`'s egress to `bits` bit/s (None: back to no qdisc)."""
    if bits is None:
        return ["tc", "qdisc", "del", "dev", device, "root"]
    return ["tc", "qdisc", "replace", "dev", device, "root", "tbf", "rate", format_rate(bits),
            "burst", str(tbf_burst(bits)), "latency", TBF_LATENCY]


def route_argv(dev: str, route: dict) -> list[str] | None:
    """The `ip route replace` that puts back a route of `ip -j route show dev DEV` once DEV is
    up again; None for a connected route (the kernel makes it again) or one it cannot say."""
    dst = route.get("dst")
    if not dst or route.get("protocol") == "kernel" or "nexthops" in route or route.get("type") not in (None, "unicast"):
        return None
    argv = ["ip", "route", "replace", str(dst)]
    if route.get("gateway"):
        argv += ["via", str(route["gateway"])]
    argv += ["dev", dev]
    for key, word in (("metric", "metric"), ("protocol", "proto"), ("scope", "scope"), ("prefsrc", "src")):
        if route.get(key) not in (None, ""):
            argv += [word, str(route[key])]
    if "onlink" in route.get("flags", []):
        argv.append("onlink")
    return argv


# -- the record ---------------------------------------------------------------------------
def _key(link: Link) -> str:
    return f"{link.a} -- {link.b}"


def _load(lab: "Lab") -> dict:
    try:
        return json.loads((lab.run_dir / RECORD).read_text())
    except (OSError, ValueError):
        return {}


def _save(lab: "Lab", record: dict) -> None:
    path = lab.run_dir / RECORD
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1, sort_keys=True))
    tmp.replace(path)


@contextmanager
def _locked(lab: "Lab") -> Iterator[None]:
    """One fault change at a time per lab (two `labkit link` commands may race)."""
    with open(lab.run_dir / "faults.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _entry(record: dict, link: Link) -> dict:
    entry = record.get(_key(link), {"down": [], "loss": {}, "rate": {}})
    entry.setdefault("routes", {})   # end -> the routes through it when down took it down
    return entry


def _opposite(link: Link, end: str) -> Endpoint:
    return link.b if str(link.a) == end else link.a


def _is_ovs_port(topo: Topology, end: Endpoint) -> bool:
    from .ovs import is_port

    node = topo.nodes[end.node]
    return node.switching == "ovs" and is_port(node, end.intf)


def drop_rules(topo: Topology, record: dict, node: str) -> list[DropRule]:
    """The drop rules node `node` carries for every recorded loss (see the module's doc)."""
    rules = []
    for link in topo.links:
        for sender, loss in sorted(_entry(record, link)["loss"].items()):
            receiver = _opposite(link, sender)
            snd = Endpoint(*sender.split(":", 1))
            at, hook = (snd, "egress") if _is_ovs_port(topo, receiver) else (receiver, "ingress")
            if at.node == node:
                rules.append(DropRule(hook, at.intf, loss, f"labkit loss {sender} -> {receiver}"))
    return rules


# -- the handle -------------------------------------------------------------------------
class LinkFaults:
    """Faults on one link of a running lab: ``lab.link(A, B)``.

    A and B are node names, or NODE:IFACE when several links join the two nodes. The
    direction of ``impair`` is A -> B (what A sends); ``both=True`` adds B -> A.

    >>> link = lab.link("h1", "r1")
    >>> link.down(); link.up()                     # both ends; up undoes exactly what down did
    >>> link.impair(loss=0.2, rate="10mbit")       # or loss="20%", rate=10_000_000 (bit/s)
    >>> link.impair(loss="1%", both=True)          # loss merges with the rate already set
    >>> link.status()   # {'link': 'r1:eth0 -- h1:eth0', 'down': False, 'loss': {...}, 'rate': {...}}
    >>> link.clear()                               # no loss, no rate, and up again if down took it down

    ``impair(loss=0)`` removes the loss of that direction; delay and jitter raise FaultError
    (this kernel has no netem). Every value is checked before anything changes.
    """

    def __init__(self, lab: "Lab", a: str, b: str):
        self.lab = lab
        self.link, self.a, self.b = resolve_link(lab.topo, a, b)

    def __repr__(self) -> str:
        return f"<LinkFaults {self.a} -> {self.b} in {self.lab.instance}>"

    # actions
    def down(self) -> dict:
        """Take both ends down (admin down: the peer loses carrier, as with a pulled cable)."""
        def change(entry: dict) -> None:
            for end in (self.link.a, self.link.b):
                if str(end) not in entry["down"] and self._admin_up(end):
                    entry["down"].append(str(end))
                    entry["routes"][str(end)] = self._routes(end)
        return self._change(change)

    def up(self, timeout: float = 10.0) -> dict:
        """Bring up the ends `down` took down; return once both have carrier (bounded)."""
        from labkit.procs import wait_until

        entry = self._change(lambda e: (e["down"].clear(), e["routes"].clear()))
        ends = (self.link.a, self.link.b)
        if all(self._admin_up(e) for e in ends):   # an end its config shuts stays shut: no carrier
            wait_until(lambda: all(self._oper_up(e) for e in ends), timeout, 0.02,
                       what=f"link {_key(self.link)} carrying again")
        return entry

    def impair(self, loss: object = None, rate: object = None, both: bool = False,
               delay: object = None, jitter: object = None) -> dict:
        """Loss (a fraction, or "N%") and/or rate ("10mbit", or bit/s) on A -> B (and B -> A
        with `both`). None leaves a setting as it is; loss=0 removes it. Delay and jitter
        are refused: no netem on this kernel."""
        refuse_netem(delay=delay, jitter=jitter)
        if loss is None and rate is None:
            raise FaultError("nothing to impair: give a loss (e.g. '5%') and/or a rate (e.g. '10mbit')")
        frac = None if loss is None else parse_loss(loss)
        bits = None if rate is None else parse_rate(rate)
        senders = [str(self.a)] + ([str(self.b)] if both else [])

        def change(entry: dict) -> None:
            for s in senders:
                if frac is not None:
                    if frac:
                        entry["loss"][s] = frac
                    else:
                        entry["loss"].pop(s, None)
                if bits is not None:
                    entry["rate"][s] = bits
        return self._change(change)

    def clear(self) -> dict:
        """No loss and no rate in either direction, and the link up if `down` took it down."""
        was_down = bool(_entry(_load(self.lab), self.link)["down"])
        entry = self._change(lambda e: (e["down"].clear(), e["routes"].clear(), e["loss"].clear(),
                                        e["rate"].clear()))
        if was_down:
            self.up()
        return entry

    def status(self) -> dict:
        return _describe(self.link, _entry(_load(self.lab), self.link))

    # machinery
    def _change(self, change) -> dict:
        lab = self.lab
        if lab.state.status != "up":
            raise LabStateError(f"lab '{lab.instance}' is {lab.state.status}, not up; faults need a running lab")
        with _locked(lab):
            record = _load(lab)
            old = json.loads(json.dumps(_entry(record, self.link)))
            entry = json.loads(json.dumps(old))
            change(entry)
            if entry["down"] or entry["loss"] or entry["rate"]:
                record[_key(self.link)] = entry
            else:
                record.pop(_key(self.link), None)
            _save(lab, record)                  # recorded first, then made
            try:
                self._apply(record, old, entry)
            except BaseException:
                if entry != old:
                    record[_key(self.link)] = old
                    if not (old["down"] or old["loss"] or old["rate"]):
                        record.pop(_key(self.link), None)
                    _save(lab, record)
                    try:
                        self._apply(record, entry, old)
                    except Exception:
                        pass
                raise
        return _describe(self.link, entry)

    def _apply(self, record: dict, old: dict, new: dict) -> None:
        topo = self.lab.topo
        came_up = []
        for end in (self.link.a, self.link.b):
            node = self.lab.node(end.node)
            s = str(end)
            if s in new["down"] and s not in old["down"]:
                node.run(["ip", "link", "set", "dev", end.intf, "down"], check=True)
            if s in old["down"] and s not in new["down"]:
                node.run(["ip", "link", "set", "dev", end.intf, "up"], check=True)
                came_up.append(end)
        for end in came_up:                     # the routes the kernel dropped with the link
            for route in old["routes"].get(str(end), []):
                argv = route_argv(end.intf, route)
                if argv:
                    p = self.lab.node(end.node).run(argv)
                    if p.returncode != 0:
                        raise FaultError(f"{end.node}: could not put back '{' '.join(argv[3:])}': "
                                         f"{p.stderr.strip()}")
        for end in (self.link.a, self.link.b):
            node = self.lab.node(end.node)
            s = str(end)
            bits = new["rate"].get(s)
            if bits is not None and bits != old["rate"].get(s):
                node.run(tbf_argv(end.intf, bits), check=True)
            elif bits is None and s in old["rate"]:
                node.run(tbf_argv(end.intf, None))   # gone already is fine
            script = render_nft(drop_rules(topo, record, end.node))
            p = node.run(["nft", "-f", "-"], input=script)
            if p.returncode != 0:
                raise FaultError(f"nft in {end.node} refused the loss rules: {p.stderr.strip()}")

    def _link_json(self, end: Endpoint) -> dict:
        out = self.lab.node(end.node).run(["ip", "-j", "link", "show", "dev", end.intf]).stdout
        try:
            return json.loads(out)[0]
        except (ValueError, IndexError):
            raise FaultError(f"{end} is not in the running lab (is it up?)") from None

    def _routes(self, end: Endpoint) -> list[dict]:
        out = self.lab.node(end.node).run(["ip", "-j", "-4", "route", "show", "dev", end.intf]).stdout
        try:
            return [r for r in json.loads(out or "[]") if route_argv(end.intf, r)]
        except ValueError:
            return []

    def _admin_up(self, end: Endpoint) -> bool:
        return "UP" in self._link_json(end).get("flags", [])

    def _oper_up(self, end: Endpoint) -> bool:
        return "LOWER_UP" in self._link_json(end).get("flags", [])


def _describe(link: Link, entry: dict) -> dict:
    def arrows(values: dict, fmt) -> dict:
        return {f"{s} -> {_opposite(link, s)}": fmt(v) for s, v in sorted(values.items())}
    return {"link": _key(link), "down": bool(entry["down"]),
            "loss": arrows(entry["loss"], format_loss), "rate": arrows(entry["rate"], format_rate)}


def status(lab: "Lab") -> list[dict]:
    """Every link with a fault, as recorded: {'link', 'down', 'loss': {'A:x -> B:y': '5%'},
    'rate': {'A:x -> B:y': '10mbit'}}; an empty list when there is none."""
    record = _load(lab) if (lab.run_dir / RECORD).exists() else {}
    return [_describe(link, record[_key(link)]) for link in lab.topo.links if _key(link) in record]


def describe_line(fault: dict) -> str:
    """One line for `labkit status`: 'r1:eth0 -- h1:eth0  down; loss 20% r1:eth0 -> h1:eth0'."""
    parts = ["down"] if fault["down"] else []
    parts += [f"loss {v} {k}" for k, v in fault["loss"].items()]
    parts += [f"rate {v} {k}" for k, v in fault["rate"].items()]
    return f"{fault['link']}  {'; '.join(parts)}"
