"""ACD model: queues, agents, calls, routing choices, statistics, the queue log.

Pure logic, no sockets: ``server.py`` feeds it SIP events, tests can drive it directly.
Times come from the caller (``now``) so the model is deterministic under test.
"""
from __future__ import annotations

import math
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import yaml

from labkit.diag import printable
from labkit.digits import is_uint

# Agent states as /agents shows them (the seed shows "idle" and "loggedout").
LOGGEDOUT, PENDING, IDLE, RINGING, INCALL, WRAPUP, BUSY, PAUSED = (
    "loggedout", "pending", "idle", "ringing", "incall", "wrapup", "busy", "paused")
# Call states as /queues shows them (the seed shows "assigned": an agent is being rung).
WAITING, ASSIGNED, CONNECTED, TRANSFERRING = "waiting", "assigned", "connected", "transferring"
STRATEGIES = ("mia", "ringall")


class ConfigError(ValueError):
    """Bad ACD config: the message names the file, the entry and the fix."""


@dataclass(eq=False)
class QueueStats:
    entered: int = 0
    answered: int = 0
    abandoned: int = 0
    within_sl: int = 0
    total_wait: float = 0.0
    max_wait: float = 0.0


@dataclass(eq=False)
class Queue:
    name: str
    strategy: str = "mia"
    ring_timeout: float | None = None    # None: the ACD default
    service_level: float = 20.0           # seconds: answered within this counts for SL
    calls: list["Call"] = field(default_factory=list)
    stats: QueueStats = field(default_factory=QueueStats)

    def waiting(self) -> list["Call"]:
        return [c for c in self.calls if c.state == WAITING]

    def stats_dict(self, now: float) -> dict[str, Any]:
        s = self.stats
        waits = [now - c.enqueued for c in self.calls if c.state in (WAITING, ASSIGNED)]
        done = s.answered + s.abandoned
        return {
            "waiting": len(self.waiting()),
            "entered": s.entered,
            "answered": s.answered,
            "abandoned": s.abandoned,
            "longest_wait": round(max(waits, default=0.0), 3),
            "max_wait": round(s.max_wait, 3),
            "avg_wait": round(s.total_wait / s.answered, 3) if s.answered else 0.0,
            "service_level": round(100.0 * s.within_sl / done, 1) if done else 100.0,
            "service_level_s": self.service_level,
        }


@dataclass(eq=False)
class Agent:
    id: str
    memberof: list[str] = field(default_factory=list)
    state: str = LOGGEDOUT
    device: str = ""              # Contact URI the agent logged in from
    idle_since: float = 0.0
    missed: int = 0               # consecutive unanswered offers (auto-pause)
    paused: bool = False
    device_idle: bool = False
    call: "Call | None" = None
    sub: Any = None               # server-side Subscription
    wrapup_handle: Any = None
    # PBX mode: how the subscription to the device stands ("pending", "active" or why it
    # failed), and the re-SUBSCRIBE waiting out its backoff
    subscription: str = ""
    resubscribe: Any = None
    backoff: Any = None

    @property
    def available(self) -> bool:
        return self.state == IDLE and not self.paused and self.call is None

    def shown_state(self) -> str:
        if self.paused and self.state in (IDLE, BUSY):
            return PAUSED
        return self.state


@dataclass(eq=False)
class Call:
    """A caller in the ACD, from its INVITE to its BYE; ``id`` is the caller's Call-ID."""
    id: str
    from_: str
    to: str
    queue: Queue | None = None
    direct_agent: str = ""        # agent@acd calls: only this agent may take it
    state: str = WAITING
    enqueued: float = 0.0
    answered_at: float = 0.0
    tried: set[str] = field(default_factory=set)
    agent: Agent | None = None
    position: int = 0
    bridge: str = "relay"         # how its media will meet an agent's: "reinvite" or "relay"
    media: str = "prompts"        # how it flows now: prompts | direct | relay | half-relay
    ext: dict[str, Any] = field(default_factory=dict)   # server-side legs, media, offers


@dataclass
class AcdConfig:
    domain: str = "acd.lab"
    login_user: str = "acdlogin"
    logout_user: str = "acdlogout"
    ring_timeout: float = 15.0
    wrapup: float = 5.0
    autopause_after: int = 3      # 0 disables
    announce_every: float = 30.0
    probe_interval: float = 0.0   # in-dialog OPTIONS keep-alive for calls; 0 = off
    subscribe_expires: int = 3600
    digit_timeout: float = 3.0
    login_hangup_delay: float = 2.0   # the ACD hangs up login/logout calls after this (prompt time)
    bridge: str = "auto"          # how caller and agent media meet: see BRIDGES
    media: bool = True
    queue_log: str = ""
    # PBX mode (``--pbx ADDR:PORT``, labkit.acd.pbx_client): the digest user name (our peer in
    # the PBX), its password, and the registration expiry asked for
    pbx_user: str = "acdserver"
    pbx_secret: str = ""
    register_expires: int = 300
    queues: list[Queue] = field(default_factory=list)
    agents: list[Agent] = field(default_factory=list)


MAX_SECONDS = 86400.0      # one day: the longest time any ACD setting may name
MIN_SECONDS = 0.001        # the shortest (a timer below a millisecond is a mistake, not a setting)


def seconds(value: Any, where: str, zero: bool = False) -> float:
    """A number of seconds from a config or a request: finite, from a millisecond (or exactly 0
    if ``zero``) to a day; ConfigError naming ``where`` otherwise."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = number and ((zero and value == 0) or MIN_SECONDS <= value <= MAX_SECONDS)
    if not ok:
        low = f"0 or from {MIN_SECONDS:g}" if zero else f"from {MIN_SECONDS:g}"
        raise ConfigError(f"{where} must be a number of seconds {low} to {MAX_SECONDS:g} "
                          f"(got {printable(value, 30)})")
    return float(value)


#: How a connected call's media meets (docs/notes/acd.md): ``reinvite`` re-INVITEs every
#: caller with the agent's SDP; ``relay`` never does and carries the RTP itself; ``auto``
#: re-INVITEs callers whose INVITE listed INVITE in Allow and relays the others.  Whenever a
#: re-INVITE fails (no answer, 488, 491, 501, ...) the ACD falls back to relaying.
BRIDGES = ("auto", "reinvite", "relay")


def _sip_user(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 64 or \
            not all((ch.isascii() and ch.isalnum()) or ch in "-_.*" for ch in value):
        raise ConfigError(f"{where} must be a SIP user name: ASCII letters, digits, - _ . * "
                          f"(got {printable(value, 30)})")
    return value


def _count(value: Any, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{where} must be a whole number from {low} to {high} "
                          f"(got {printable(value, 30)})")
    return value


def _choice(choices: tuple[str, ...]):
    def check(value: Any, where: str) -> str:
        if value not in choices:
            raise ConfigError(f"{where} must be one of {', '.join(choices)} (got {printable(value, 30)})")
        return value
    return check


def _flag(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where} must be true or false (got {printable(value, 30)})")
    return value


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{where} must be a string (got {printable(value, 30)})")
    return value


#: Every top-level setting and how it is checked (queues and agents have their own makers).
_SETTINGS = {
    "domain": _text, "login_user": _sip_user, "logout_user": _sip_user,
    "ring_timeout": seconds, "wrapup": lambda v, w: seconds(v, w, zero=True),
    "autopause_after": lambda v, w: _count(v, w, 0, 1000),
    "announce_every": seconds, "probe_interval": lambda v, w: seconds(v, w, zero=True),
    "subscribe_expires": lambda v, w: _count(v, w, 1, 86400), "digit_timeout": seconds,
    "login_hangup_delay": lambda v, w: seconds(v, w, zero=True), "bridge": _choice(BRIDGES),
    "media": _flag, "queue_log": _text,
    "pbx_user": _sip_user, "pbx_secret": _text,
    "register_expires": lambda v, w: _count(v, w, 10, 86400),
}
_TOP_KEYS = set(_SETTINGS) | {"queues", "agents"}


def load_config(path: str | os.PathLike) -> AcdConfig:
    """Read topologies/acd/acd.yaml; errors say file, entry and fix."""
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{p}: cannot read ACD config: {exc}") from None
    return config_from_dict(data, str(p))


def config_from_dict(data: dict, source: str = "<config>") -> AcdConfig:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: top level must be a mapping with queues: and agents:")
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {sorted(unknown)}; allowed: {sorted(_TOP_KEYS)}")
    cfg = AcdConfig()
    for k, check in _SETTINGS.items():
        if k in data:
            setattr(cfg, k, check(data[k], f"{source}: {k}"))
    names: set[str] = set()
    for i, q in enumerate(data.get("queues") or []):
        if isinstance(q, str):
            q = {"name": q}
        queue = make_queue(q, f"{source}: queues[{i}]")
        if queue.name in names:
            raise ConfigError(f"{source}: queues[{i}]: duplicate queue {queue.name!r}; rename it")
        names.add(queue.name)
        cfg.queues.append(queue)
    for k in ("login_user", "logout_user"):
        if getattr(cfg, k) in names:
            raise ConfigError(f"{source}: {k} must differ from every queue name ({getattr(cfg, k)!r} "
                              "is one): calls to it could not be told apart")
    if cfg.login_user == cfg.logout_user:
        raise ConfigError(f"{source}: logout_user must differ from login_user (both {cfg.login_user!r})")
    if cfg.queue_log:
        folder = os.path.dirname(cfg.queue_log) or "."
        try:
            writable = os.path.isdir(folder) and os.access(folder, os.W_OK)
        except ValueError:           # a NUL byte in the path
            writable = False
        if not writable:
            raise ConfigError(f"{source}: queue_log must be a file in a directory that exists and "
                              f"is writable (got {printable(cfg.queue_log, 60)})")
    ids: set[str] = set()
    for i, a in enumerate(data.get("agents") or []):
        agent = make_agent(a, names, f"{source}: agents[{i}]")
        if agent.id in ids:
            raise ConfigError(f"{source}: agents[{i}]: duplicate agent id {agent.id!r}")
        if agent.id in names:
            raise ConfigError(f"{source}: agents[{i}]: agent id {agent.id!r} is also a queue's "
                              "name; calls to it could not be told apart")
        ids.add(agent.id)
        cfg.agents.append(agent)
    for k in ("login_user", "logout_user"):
        if getattr(cfg, k) in ids:
            raise ConfigError(f"{source}: {k} must differ from every agent id ({getattr(cfg, k)!r} "
                              "is one): calls to it could not be told apart")
    return cfg


def make_queue(q: Any, where: str) -> Queue:
    if not isinstance(q, dict) or not isinstance(q.get("name"), str) or not q["name"]:
        raise ConfigError(f"{where}: a queue needs a non-empty string 'name'")
    name = q["name"]
    if len(name) > 64 or not all((ch.isascii() and ch.isalnum()) or ch in "-_." for ch in name):
        raise ConfigError(f"{where}: queue name '{printable(name, 40)}' must be up to 64 ASCII "
                          "letters, digits, - _ . (it is a SIP user)")
    strategy = q.get("strategy", "mia")
    if strategy not in STRATEGIES:
        raise ConfigError(f"{where}: strategy {strategy!r} unknown; use one of {STRATEGIES}")
    rt = q.get("ring_timeout")
    if rt is not None:
        rt = seconds(rt, f"{where}: ring_timeout")
    sl = seconds(q.get("service_level", 20), f"{where}: service_level")
    extra = set(q) - {"name", "strategy", "ring_timeout", "service_level"}
    if extra:
        raise ConfigError(f"{where}: unknown queue field(s) {sorted(extra)}")
    return Queue(name=name, strategy=strategy, ring_timeout=rt, service_level=sl)


def make_agent(a: Any, queue_names: set[str], where: str) -> Agent:
    if not isinstance(a, dict) or "id" not in a:
        raise ConfigError(f"{where}: an agent needs an 'id' (digits the agent keys in)")
    aid = a["id"]
    if isinstance(aid, bool) or not isinstance(aid, (str, int)) or not is_uint(str(aid)) or len(str(aid)) > 16:
        raise ConfigError(f"{where}: agent id '{printable(aid, 30)}' must be 1 to 16 digits 0-9 "
                          "(it is keyed in as DTMF)")
    aid = str(aid)
    mem = a.get("memberof", [])
    if isinstance(mem, str) or not isinstance(mem, list) or not all(isinstance(m, str) for m in mem):
        raise ConfigError(f"{where}: memberof must be a list of queue names")
    missing = [m for m in mem if m not in queue_names]
    if missing:
        raise ConfigError(f"{where}: memberof names unknown queue(s) {missing}; add them under queues:")
    extra = set(a) - {"id", "memberof"}
    if extra:
        raise ConfigError(f"{where}: unknown agent field(s) {sorted(extra)}")
    return Agent(id=aid, memberof=list(dict.fromkeys(mem)))


def pick_agents(queue: Queue, call: Call, agents: dict[str, Agent]) -> list[Agent]:
    """Agents to ring for ``call``: the most-idle one (MIA) or every idle one (ring-all).

    Agents already tried for this call are skipped while someone else is free, so a no-answer
    redirects to the *next* most-idle agent; once all were tried the round starts again.
    """
    members = [a for a in agents.values() if queue.name in a.memberof and a.available]
    if not members:
        return []
    if queue.strategy == "ringall":
        return members
    fresh = [a for a in members if a.id not in call.tried]
    if not fresh:
        call.tried.clear()
        fresh = members
    return [min(fresh, key=lambda a: (a.idle_since, a.id))]


class QueueLog:
    """Asterisk queue_log-like lines: ``epoch|callid|queue|agent|EVENT|data1|data2|data3``."""

    def __init__(self, path: str = "") -> None:
        self.path = path
        try:
            self._f: TextIO | None = open(path, "a", buffering=1) if path else None
        except OSError as exc:
            raise ConfigError(f"queue_log {path!r}: cannot append to it: {exc.strerror}; "
                              "give a file in a directory that exists and is writable") from None
        self.lines: list[str] = []      # in-memory tail for the REST API and tests
        self.keep = 1000
        self.counts: Counter[str] = Counter()   # every event ever written, by name

    def write(self, callid: str, queue: str, agent: str, event: str, *data: Any) -> None:
        line = "|".join([str(int(time.time())), callid or "NONE", queue or "NONE",
                         f"Agent/{agent}" if agent else "NONE", event] + [str(d) for d in data])
        self.lines.append(line)
        self.counts[event] += 1
        if len(self.lines) > self.keep * 2:
            del self.lines[:-self.keep]
        if self._f:
            self._f.write(line + "\n")

    def close(self) -> None:
        if self._f:
            self._f.close()
            self._f = None
