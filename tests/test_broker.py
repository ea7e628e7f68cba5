"""The lab broker's pure parts (issue 16): requests are checked in full, quotas refuse
clearly, callers are known by their peer credentials. No lab, no root needed.
"""
from __future__ import annotations

import json
import os
import socket

import pytest
from hypothesis import given, settings, strategies as st

from labkit.broker import protocol
from labkit.broker.identity import peer, prefix, uid_of
from labkit.broker.protocol import MAX_BYTES, BrokerError, Request, encode, parse
from labkit.broker.quota import Quota
from labkit.lab.loader import NAME_RE

names = st.from_regex(r"\A[a-z][a-z0-9-]{0,11}\Z")
words = st.lists(st.text(st.characters(blacklist_characters="\0"), max_size=40), min_size=1, max_size=8)


@st.composite
def requests(draw):
    op = draw(st.sampled_from(sorted(protocol.OPS)))
    wanted = protocol.OPS[op]
    return Request(op=op,
                   name=draw(names) if "name" in wanted else (
                       draw(st.just("") | names) if "name" in protocol.OPTIONAL.get(op, {}) else ""),
                   topology=draw(st.from_regex(r"\A[a-z][a-z0-9-]{0,39}\Z")) if "topology" in wanted else "",
                   node=draw(names) if "node" in wanted else "",
                   argv=tuple(draw(words)) if "argv" in wanted else (),
                   owned=draw(st.booleans()) if "owned" in protocol.OPTIONAL.get(op, {}) else False,
                   json=draw(st.booleans()) if "json" in protocol.OPTIONAL.get(op, {}) else False)


@settings(max_examples=500, derandomize=True)
@given(requests())
def test_every_valid_request_survives_the_wire(req):
    assert parse(encode(req)) == req


# Malformed requests: random bytes, random JSON, and valid requests with one field broken.
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                           max_leaves=12)


@st.composite
def broken(draw):
    base = json.loads(encode(draw(requests())))
    how = draw(st.sampled_from(["drop", "add", "retype", "path"]))
    keys = sorted(base)
    if how == "drop":
        base.pop(draw(st.sampled_from(keys)))
    elif how == "add":
        base[draw(st.text(min_size=1, max_size=8).filter(lambda k: k not in base))] = draw(json_values)
    elif how == "retype":
        key = draw(st.sampled_from(keys))
        base[key] = draw(json_values.filter(lambda v: not isinstance(v, str) or key != "op"))
    else:
        base[draw(st.sampled_from(keys))] = draw(st.sampled_from(["../etc/passwd", "/tmp/x.yaml", "seed.yaml",
                                                                   "Seed", "", "a" * 41, "x\nop"]))
    return json.dumps(base).encode()


def _refused_or_valid(raw: bytes) -> None:
    try:
        req = parse(raw)
    except BrokerError as e:
        assert str(e) and "\n" not in str(e)
        return
    assert req.op in protocol.OPS          # what passed is a request the broker knows
    assert not req.name or NAME_RE.match(req.name)
    assert all(isinstance(w, str) and "\0" not in w for w in req.argv)


@settings(max_examples=2000, derandomize=True)
@given(st.binary(max_size=300) | json_values.map(lambda v: json.dumps(v).encode()) | broken())
def test_malformed_requests_get_a_clear_refusal_never_a_crash(raw):
    _refused_or_valid(raw)


@pytest.mark.parametrize("raw, says", [
    (b'{"op": "rm", "name": "x"}', "op must be one of check, describe, down, exec, status, up"),
    (b'{"op": "up", "topology": "/tmp/evil.yaml", "name": "x"}', "a topology's name from the catalog"),
    (b'{"op": "up", "topology": "seed"}', "'up' needs the field 'name'"),
    (b'{"op": "status", "uid": 0}', "unknown field 'uid'"),
    (b'{"op": "exec", "name": "x", "node": "pc1", "argv": []}', "argv must be a non-empty list"),
    (b'{"op": "exec", "name": "x", "node": "pc1", "argv": ["a\\u0000b"]}', "argv[0] must be at most"),
    (b'{"op": "up", "topology": "seed", "name": "x", "owned": 1}', "owned must be true or false, not 1"),
    (b'{"op": "down", "name": "x", "owned": true}', "unknown field 'owned'"),
    (b'{"op": "status", "json": "yes"}', "json must be true or false"),
    (b'{"op": "status", "name": "../x"}', "name must be up to 12 of"),
    (b'\xff', "one JSON object in UTF-8"),
    (b'[]', "one JSON object, not list"),
])
def test_refusals_say_which_field_and_why(raw, says):
    with pytest.raises(BrokerError, match=None) as err:
        parse(raw)
    assert says in str(err.value)


def test_an_oversized_request_is_refused_before_it_is_read_as_json():
    with pytest.raises(BrokerError, match=f"at most {MAX_BYTES} bytes"):
        parse(b"[" * (MAX_BYTES + 1))


def test_quota_refuses_the_lab_past_either_limit_and_names_it():
    q = Quota(labs=2, nodes=40)
    q.admit("alice", {}, "seed", 14)
    q.admit("alice", {"seed": 14}, "trunks", 9)
    with pytest.raises(BrokerError, match=r"alice: quota reached: 2 labs up \(seed, trunks\), at most 2 per user"):
        q.admit("alice", {"seed": 14, "trunks": 9}, "tour", 14)
    with pytest.raises(BrokerError, match=r"'big' has 30 nodes and your labs up have 14, at most 40"):
        q.admit("alice", {"seed": 14}, "big", 30)
    with pytest.raises(BrokerError, match="already have a lab named 'seed'"):
        q.admit("alice", {"seed": 14}, "seed", 14)


@settings(max_examples=300, derandomize=True)
@given(st.integers(1, 5), st.integers(1, 60), st.dictionaries(names, st.integers(1, 30), max_size=6),
       names, st.integers(1, 30))
def test_quota_never_admits_past_its_limits(labs, nodes, up, name, new):
    q = Quota(labs=labs, nodes=nodes)
    try:
        q.admit("u", up, name, new)
    except BrokerError:
        assert name in up or len(up) + 1 > labs or sum(up.values()) + new > nodes
    else:
        assert name not in up and len(up) + 1 <= labs and sum(up.values()) + new <= nodes


@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "2"])
def test_a_quota_below_one_is_refused_when_made(bad):
    with pytest.raises(ValueError, match="at least 1"):
        Quota(labs=bad)


def test_the_caller_is_who_the_kernel_says():
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with a, b:
        me = peer(a)
    assert (me.pid, me.uid, me.gid) == (os.getpid(), os.getuid(), os.getgid())


@settings(max_examples=500, derandomize=True)
@given(st.integers(0, 36**5 - 1), st.integers(0, 36**5 - 1))
def test_prefixes_are_one_per_uid_and_leave_room_for_a_name(u1, u2):
    p1, p2 = prefix(u1), prefix(u2)
    assert (p1 == p2) == (u1 == u2)
    assert NAME_RE.match(p1 + "seed")       # a seed lab fits under every prefix
    assert prefix(1001) == "urt-"


@settings(max_examples=500, derandomize=True)
@given(st.integers(0, 36 ** 5 - 1), names)
def test_a_students_lab_maps_back_to_its_uid_and_nothing_else_does(uid, name):
    assert uid_of(prefix(uid) + name) == uid
    assert uid_of(name) is None or name.startswith(prefix(uid_of(name)))
    for other in ("seed", "u-seed", "u0rt-seed", "uRT-seed", "urt", "x1-seed"):
        assert uid_of(other) is None, other
