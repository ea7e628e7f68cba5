"""One broker request, read and checked in full before the broker acts on it.

The wire format is one JSON object per request, at most MAX_BYTES, UTF-8, nothing else:
JSON because nothing a student sends may be unpickled as root (docs/notes/class.md). Every
field is checked here (its type, its pattern, its size); a request that fails any check is
refused whole with a BrokerError that says which field and why, and the broker has changed
nothing.

    {"op": "up", "topology": "seed", "name": "seed"}    bring up a catalog topology
    {"op": "up", ..., "owned": true}                     ...owned by the calling process: the broker
                                                         removes it once that process is gone
    {"op": "down", "name": "seed"}                       tear down one of the caller's labs
    {"op": "status"}                                     the caller's labs (optional: "name",
                                                         one of them; "json": true, as JSON)
    {"op": "check", "name": "seed"}                      run the lab's checks
    {"op": "describe", "name": "seed"}                   the lab's record, what Lab.attach needs
    {"op": "exec", "name": "seed", "node": "pc1", "argv": ["ping", "-c1", "1.2.3.4"]}
                                                         a command in a node, as the caller

A topology is a name from the installed catalog (the broker's own search path), never a path:
the lab's daemons run as root, and a config the student wrote could make them run commands
(Postfix's pipe transport does).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from labkit.diag import LabkitError
from labkit.lab.loader import NAME_RE

MAX_BYTES = 64 * 1024
MAX_ARGS = 256
MAX_ARG_CHARS = 4096
OPS = {
    "up": {"topology", "name"},
    "down": {"name"},
    "status": set(),
    "check": {"name"},
    "describe": {"name"},
    "exec": {"name", "node", "argv"},
}
#: fields an op may leave out, and their value then
OPTIONAL = {"up": {"owned": False}, "status": {"name": "", "json": False}}
#: a topology's name in the catalog: what `Lab.up("seed")` takes, without a path or suffix
TOPOLOGY_RE = re.compile(r"^[a-z][a-z0-9-]{0,39}$")


class BrokerError(LabkitError):
    """A refused request; the message is what the student reads."""


@dataclass(frozen=True)
class Request:
    op: str
    name: str = ""
    topology: str = ""
    node: str = ""
    argv: tuple[str, ...] = field(default_factory=tuple)
    owned: bool = False
    json: bool = False


def _name(value: object, what: str, pattern: re.Pattern, rule: str) -> str:
    if not isinstance(value, str) or not pattern.match(value):
        raise BrokerError(f"{what} must be {rule}, not {_show(value)}")
    return value


def _show(value: object) -> str:
    from labkit.diag import printable

    return printable(json.dumps(value) if not isinstance(value, str) else repr(value), 60)


def _argv(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise BrokerError(f"argv must be a non-empty list of strings, not {_show(value)}")
    if len(value) > MAX_ARGS:
        raise BrokerError(f"argv has {len(value)} words; at most {MAX_ARGS}")
    for i, word in enumerate(value):
        if not isinstance(word, str):
            raise BrokerError(f"argv[{i}] must be a string, not {_show(word)}")
        if len(word) > MAX_ARG_CHARS or "\0" in word:
            raise BrokerError(f"argv[{i}] must be at most {MAX_ARG_CHARS} characters with no NUL")
    return tuple(value)


def parse(raw: bytes) -> Request:
    """The request in `raw`, or BrokerError naming the first thing wrong with it."""
    if len(raw) > MAX_BYTES:
        raise BrokerError(f"a request is at most {MAX_BYTES} bytes; this one has {len(raw)}")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise BrokerError(f"a request is one JSON object in UTF-8: {e}") from None
    if not isinstance(data, dict):
        raise BrokerError(f"a request is one JSON object, not {type(data).__name__}")
    op = data.get("op")
    if not isinstance(op, str) or op not in OPS:
        raise BrokerError(f"op must be one of {', '.join(sorted(OPS))}, not {_show(op)}")
    want = OPS[op] | {"op"}
    optional = OPTIONAL.get(op, {})
    extra = sorted(set(data) - want - set(optional), key=str)
    if extra:
        takes = ", ".join(sorted(want | set(optional)))
        raise BrokerError(f"'{op}' takes {takes}; unknown field {_show(extra[0])}")
    missing = sorted(want - set(data))
    if missing:
        raise BrokerError(f"'{op}' needs the field '{missing[0]}'")
    for key, default in optional.items():
        if isinstance(default, bool) and not isinstance(data.get(key, default), bool):
            raise BrokerError(f"{key} must be true or false, not {_show(data[key])}")
    rule = "up to 12 of a-z, 0-9 and '-', starting with a letter"
    topology = _name(data["topology"], "topology", TOPOLOGY_RE,
                     "a topology's name from the catalog (e.g. 'seed'), not a path") if "topology" in OPS[op] else ""
    named = "name" in OPS[op] or "name" in data
    return Request(
        op=op,
        topology=topology,
        name=_name(data["name"], "name", NAME_RE, rule) if named else "",
        node=_name(data["node"], "node", NAME_RE, rule) if "node" in OPS[op] else "",
        argv=_argv(data["argv"]) if "argv" in OPS[op] else (),
        owned=data.get("owned", False),
        json=data.get("json", False),
    )


def encode(request: Request) -> bytes:
    """The wire form of a request (what the client sends)."""
    fields = {"op": request.op}
    for key in sorted(OPS[request.op]):
        value = getattr(request, key)
        fields[key] = list(value) if key == "argv" else value
    for key, default in OPTIONAL.get(request.op, {}).items():
        if getattr(request, key) != default:
            fields[key] = getattr(request, key)
    return json.dumps(fields).encode()
