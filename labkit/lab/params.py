"""Typed parameters: one declaration per check or service parameter, used by lint and run time.

A check kind or service kind declares its parameters once, as ``{name: Param(type)}``.
The loader validates a topology against that declaration before anything starts, and
hands the *converted* values to the check or service, so what lint accepts is exactly
what run time gets: a port is an int in range, a timeout a bounded number of seconds, a
DNS record type a known one. A parameter type is a function ``(value, where, ctx) ->
converted value`` that raises TopologyError; plug-ins may pass their own.
"""
from __future__ import annotations

import ipaddress
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

from labkit.diag import printable, unknown_key_fix

from .errors import TopologyError, Where


class ParamContext(Protocol):
    """What a parameter type may look at while it validates: the topology being loaded."""

    def node_names(self) -> list[str]: ...
    def resolve_file(self, value: Any, where: Where) -> Path: ...


Converter = Callable[[Any, Where, ParamContext], Any]


@dataclass(frozen=True)
class Param:
    type: str | Converter
    required: bool = False
    default: Any = None
    doc: str = ""
    choices: tuple = field(default=())


def _show(value: Any) -> str:
    return printable(value, 60)


def _node(value: Any, where: Where, ctx: ParamContext) -> str:
    names = ctx.node_names()
    if not isinstance(value, str) or value not in names:
        raise TopologyError(where, f"unknown node '{_show(value)}'", f"use one of: {', '.join(names)}")
    return value


def _target(value: Any, where: Where, ctx: ParamContext) -> str:
    """A node name or an IPv4 address."""
    names = ctx.node_names()
    if isinstance(value, str) and value in names:
        return value
    try:
        return str(ipaddress.IPv4Address(str(value)))
    except ValueError:
        raise TopologyError(where, f"target '{_show(value)}' is neither a node nor an IPv4 address",
                            f"nodes: {', '.join(names)}") from None


_PORT_RE = re.compile(r"^(\d{1,5})/(tcp|udp)$")


def _proto_port(value: Any, where: Where, ctx: ParamContext) -> str:
    """`NUMBER/tcp` or `NUMBER/udp`, the number from 1 to 65535."""
    m = _PORT_RE.match(str(value)) if isinstance(value, (str, int)) else None
    if not m or not 0 < int(m.group(1)) < 65536:
        raise TopologyError(where, f"port '{_show(value)}' is not NUMBER/tcp or NUMBER/udp (1-65535)",
                            "e.g. port: 25/tcp")
    return f"{int(m.group(1))}/{m.group(2)}"


def _tcp_port(value: Any, where: Where, ctx: ParamContext) -> int:
    """A port number from 1 to 65535, TCP or UDP (also the type "port")."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        raise TopologyError(where, f"port '{_show(value)}' is not a port number", "use a number from 1 to 65535")
    return value


def _seconds(value: Any, where: Where, ctx: ParamContext) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not 0 < value <= 600:
        raise TopologyError(where, f"'{_show(value)}' is not a time in seconds",
                            "use a number of seconds above 0 and at most 600, e.g. timeout: 2")
    return float(value)


def _str(value: Any, where: Where, ctx: ParamContext) -> str:
    if isinstance(value, (dict, list)) or value is None:
        raise TopologyError(where, f"expected a single value, got {_shape(value)}", "write one word or number")
    return str(value)


def _strs(value: Any, where: Where, ctx: ParamContext) -> list[str]:
    """One string, or a list of them."""
    items = value if isinstance(value, list) else [value]
    return [_str(v, where, ctx) for v in items]


def _bool(value: Any, where: Where, ctx: ParamContext) -> bool:
    if not isinstance(value, bool):
        raise TopologyError(where, f"'{_show(value)}' is not true or false", "write true or false")
    return value


def _address(value: Any, where: Where, ctx: ParamContext) -> str:
    try:
        return str(ipaddress.IPv4Address(str(value)))
    except ValueError:
        raise TopologyError(where, f"'{_show(value)}' is not an IPv4 address", "e.g. 192.168.1.10") from None


def _file(value: Any, where: Where, ctx: ParamContext) -> Path:
    if not isinstance(value, str):
        raise TopologyError(where, f"expected a file name, got {_shape(value)}",
                            "name the file relative to the topology file")
    return ctx.resolve_file(value, where)


def _files(value: Any, where: Where, ctx: ParamContext) -> Any:
    """One file, a list of files, or a mapping of role -> file."""
    if isinstance(value, list):
        wheres = getattr(value, "item_where", [where] * len(value))
        return [_file(v, wheres[i], ctx) for i, v in enumerate(value)]
    if isinstance(value, dict):
        at = getattr(value, "at", lambda k: where)
        return {str(k): _file(v, at(k), ctx) for k, v in value.items()}
    return _file(value, where, ctx)


def _any(value: Any, where: Where, ctx: ParamContext) -> Any:
    return value


_LABEL_RE = re.compile(r"^(\*|[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)$")


def _domain(value: Any, where: Where, ctx: ParamContext) -> str:
    """A DNS name: '.', or ASCII labels of 1 to 63 letters, digits, '-' or '_', at most 253 in all.

    The bounds are the wire format's (RFC 1035): a longer label or name is what makes a
    query or a zone fail at run time, so it is refused here, at its line.
    """
    text = value if isinstance(value, str) else None
    name = text[:-1] if text and text.endswith(".") and text != "." else text
    ok = text == "." or (name is not None and 0 < len(name) <= 253
                         and all(_LABEL_RE.match(label) for label in name.split(".")))
    if not ok:
        raise TopologyError(where, f"'{_show(value)}' is not a DNS name",
                            "use labels of letters, digits and '-' joined by dots, each at most 63 "
                            "long, e.g. mail.exampledomain.ca")
    return str(text)


def _hostname(value: Any, where: Where, ctx: ParamContext) -> str:
    """A host's DNS name (a domain that is not the root and has no wildcard), e.g. mx.gmail.com."""
    name = _domain(value, where, ctx)
    if name == "." or "*" in name.split("."):
        raise TopologyError(where, f"'{_show(value)}' is not a host name", "e.g. mail.exampledomain.ca")
    return name


def _addresses(value: Any, where: Where, ctx: ParamContext) -> list[str]:
    """One IPv4 address, or a non-empty list of them."""
    return list_of(_address, "IPv4 addresses", single=True)(value, where, ctx)


def _interface_address(value: Any, where: Where, ctx: ParamContext) -> str:
    """An IPv4 address with its prefix length, e.g. 100.64.0.2/30."""
    try:
        if not isinstance(value, str) or "/" not in value:
            raise ValueError
        return str(ipaddress.IPv4Interface(value))
    except ValueError:
        raise TopologyError(where, f"'{_show(value)}' is not an IPv4 address with a prefix length",
                            "e.g. 100.64.0.2/30") from None


def int_range(lo: int, hi: int) -> Converter:
    """A whole number from `lo` to `hi` (YAML booleans and floats refused)."""
    def _int(value: Any, where: Where, ctx: ParamContext) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise TopologyError(where, f"'{_show(value)}' is not a whole number from {lo} to {hi}",
                                f"use a number from {lo} to {hi}")
        return value
    _int.__doc__ = f"a whole number from {lo} to {hi}"
    return _int


def only_port(port: int, why: str) -> Converter:
    """A port the service can use only at one value (e.g. its readiness probe is fixed)."""
    def _only(value: Any, where: Where, ctx: ParamContext) -> int:
        if _tcp_port(value, where, ctx) != port:
            raise TopologyError(where, f"port {_show(value)}: {why}", f"leave 'port' out, or write port: {port}")
        return port
    return _only


def list_of(item: Converter, what: str, single: bool = False) -> Converter:
    """A non-empty list whose items each pass `item`, each error at the item's own line.

    `single`: one bare value stands for a list of one.
    """
    def _list(value: Any, where: Where, ctx: ParamContext) -> list:
        if single and not isinstance(value, (list, dict)):
            value = [value]
        if not isinstance(value, list) or not value:
            raise TopologyError(where, f"expected a list of {what}, got {_shape(value)}",
                                f"write [ITEM, ...] with at least one of the {what}")
        wheres = getattr(value, "item_where", None) or [where] * len(value)
        return [item(v, wheres[i], ctx) for i, v in enumerate(value)]
    return _list


def mapping_of(key: Converter, item: Converter, what: str) -> Converter:
    """A non-empty mapping whose keys pass `key` and values pass `item`, each at its own line."""
    def _map(value: Any, where: Where, ctx: ParamContext) -> dict:
        if not isinstance(value, dict) or not value:
            raise TopologyError(where, f"expected a mapping of {what}, got {_shape(value)}",
                                f"write {{KEY: VALUE, ...}} with at least one entry ({what})")
        at = getattr(value, "at", lambda k: where)
        return {key(k, at(k), ctx): item(v, at(k), ctx) for k, v in value.items()}
    return _map


def _shape(value: Any) -> str:
    """What a YAML value is, in the topology's words (no Python type names)."""
    if isinstance(value, list):
        return "a list" if value else "an empty list"
    if isinstance(value, dict):
        return "a mapping" if value else "an empty mapping"
    if value is None:
        return "nothing"
    return f"'{_show(value)}'"


TYPES: dict[str, Converter] = {
    "node": _node, "target": _target, "proto_port": _proto_port, "tcp_port": _tcp_port,
    "port": _tcp_port, "seconds": _seconds, "str": _str, "strs": _strs, "bool": _bool,
    "address": _address, "addresses": _addresses, "interface_address": _interface_address,
    "domain": _domain, "hostname": _hostname, "file": _file, "files": _files, "any": _any,
}


def convert(param: Param, value: Any, where: Where, ctx: ParamContext) -> Any:
    fn = TYPES[param.type] if isinstance(param.type, str) else param.type
    out = fn(value, where, ctx)
    if param.choices and out not in param.choices:
        raise TopologyError(where, f"'{_show(value)}' is not one of {', '.join(map(str, param.choices))}",
                            f"use one of: {', '.join(map(str, param.choices))}")
    return out


def validate(decl: dict[str, Param], given: Any, where: Where, ctx: ParamContext, what: str) -> dict[str, Any]:
    """Check `given` (a mapping from the YAML) against `decl` and return the converted values.

    Unknown keys, missing required keys and wrong values are errors at their own line.
    Defaults fill in what is missing, so run time never guesses.
    """
    at = getattr(given, "at", lambda k: where)
    for key in given:
        if key not in decl:
            raise TopologyError(at(key), f"unknown key '{_show(key)}' in {what}", unknown_key_fix(key, decl))
    out: dict[str, Any] = {}
    for key, param in decl.items():
        if key in given:
            out[key] = convert(param, given[key], at(key), ctx)
        elif param.required:
            example = f"e.g. {key}: ..." if not param.doc else param.doc
            raise TopologyError(where, f"{what} needs '{key}'", example)
        elif param.default is not None:
            out[key] = param.default
    return out
