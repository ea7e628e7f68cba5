"""labkit.lab.params: each parameter type at its bounds, and what it hands to run time."""
from __future__ import annotations

import math
from pathlib import Path

import pytest

from labkit.lab import TopologyError
from labkit.lab.errors import Where
from labkit.lab.params import Param, convert, validate

WHERE = Where("lab.yaml", 7)


class Ctx:
    """The two things a parameter type may ask the loader."""

    def node_names(self) -> list[str]:
        return ["h1", "h2"]

    def resolve_file(self, value, where) -> Path:
        return Path("/nonexistent") / value


def conv(kind: str, value):
    return convert(Param(kind), value, WHERE, Ctx())


def refused(kind: str, value) -> str:
    with pytest.raises(TopologyError) as info:
        conv(kind, value)
    assert info.value.where == WHERE
    return str(info.value)


@pytest.mark.parametrize("value,out", [("1/tcp", "1/tcp"), ("65535/udp", "65535/udp"), ("25/tcp", "25/tcp"),
                                       ("053/udp", "53/udp")])
def test_proto_port_accepts_1_to_65535(value, out):
    assert conv("proto_port", value) == out


@pytest.mark.parametrize("value", ["0/tcp", "00000/udp", "65536/tcp", "99999/udp", "25/tcpx", "25/TCP", "x25/tcp",
                                   "25", 25, "/tcp", None, ["25/tcp"]])
def test_proto_port_refuses(value):
    msg = refused("proto_port", value)
    assert msg.startswith("lab.yaml:7: port '") and "is not NUMBER/tcp or NUMBER/udp (1-65535)" in msg
    assert msg.endswith("(fix: e.g. port: 25/tcp)")


@pytest.mark.parametrize("value", [1, 8080, 65535])
def test_tcp_port_accepts(value):
    assert conv("tcp_port", value) == value


@pytest.mark.parametrize("value", [0, -1, 65536, True, "80", 80.0])
def test_tcp_port_refuses(value):
    assert refused("tcp_port", value) == (f"lab.yaml:7: port '{value}' is not a port number "
                                          "(fix: use a number from 1 to 65535)")


@pytest.mark.parametrize("value,out", [(0.001, 0.001), (1, 1.0), (2.5, 2.5), (600, 600.0)])
def test_seconds_above_zero_up_to_600(value, out):
    got = conv("seconds", value)
    assert got == out and isinstance(got, float)


@pytest.mark.parametrize("value", [0, 0.0, -1, 600.5, 601, math.inf, math.nan, True, "2"])
def test_seconds_refuses(value):
    assert refused("seconds", value) == (f"lab.yaml:7: '{value}' is not a time in seconds (fix: use a number of "
                                         "seconds above 0 and at most 600, e.g. timeout: 2)")


def test_node_and_target():
    assert conv("node", "h1") == "h1" and conv("target", "h2") == "h2"
    assert conv("target", "10.0.0.1") == "10.0.0.1"
    assert refused("node", "h3") == "lab.yaml:7: unknown node 'h3' (fix: use one of: h1, h2)"
    assert "neither a node nor an IPv4 address" in refused("target", "h3")


def test_validate_fills_defaults_and_names_missing_and_unknown_keys():
    decl = {"to": Param("target", required=True), "timeout": Param("seconds", default=2.0),
            "port": Param("proto_port")}
    assert validate(decl, {"to": "h1"}, WHERE, Ctx(), "check 'x'") == {"to": "h1", "timeout": 2.0}
    with pytest.raises(TopologyError) as info:
        validate(decl, {"timeout": 1}, WHERE, Ctx(), "check 'x'")
    assert str(info.value).startswith("lab.yaml:7: check 'x' needs 'to'")
    with pytest.raises(TopologyError) as info:
        validate(decl, {"to": "h1", "tiemout": 1}, WHERE, Ctx(), "check 'x'")
    assert str(info.value) == "lab.yaml:7: unknown key 'tiemout' in check 'x' (fix: did you mean 'timeout'?)"
    with pytest.raises(TopologyError) as info:
        validate(decl, {"to": "h1", "wait": 1}, WHERE, Ctx(), "check 'x'")
    assert str(info.value).endswith("(fix: allowed keys: port, timeout, to)")


def test_choices():
    p = Param("str", choices=("A", "MX"))
    assert convert(p, "MX", WHERE, Ctx()) == "MX"
    with pytest.raises(TopologyError, match="'TXT' is not one of A, MX"):
        convert(p, "TXT", WHERE, Ctx())
