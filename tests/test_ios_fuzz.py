"""labkit.ios under generated bad input: mutants of the two seed configs.

Each example starts from topologies/router.ios or topologies/sw3550.ios and deletes,
duplicates, swaps or corrupts lines and tokens (keyword lines, random bytes, control characters, very
long tokens, bytes that are not UTF-8, other encodings, truncation). For every one,
`load()` gives a config or raises IosConfigError, never another exception and never a
hang (each example runs under an alarm); every diagnostic prints as one safe, bounded
line `FILE:LINE: ...`; and `translate()` of a config that loaded raises only
IosConfigError. The run is derandomized, so CI sees the same 2,200 inputs every time.
"""
from __future__ import annotations

import re
import signal
from contextlib import contextmanager
from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st

from labkit.diag import Diagnostic
from labkit.ios import IosConfigError, load, translate

ROOT = Path(__file__).resolve().parents[1]
SEEDS = {name: (ROOT / "topologies" / name).read_bytes() for name in ("router.ios", "sw3550.ios")}
EXAMPLES = 2200
SECONDS_PER_EXAMPLE = 5      # far above the few milliseconds one takes: only a hang trips it
MAX_LINE = 1500              # one printed diagnostic: file name + message + fix, each bounded
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

# Tokens that reach deep into the parser: keywords, edge numbers, near-miss addresses.
VOCAB = ["interface", "range", "ip", "address", "route", "access-list", "access-group", "nat",
         "inside", "outside", "source", "static", "list", "overload", "dhcp", "pool", "network",
         "default-router", "dns-server", "lease", "switchport", "mode", "access", "trunk", "allowed",
         "vlan", "native", "no", "shutdown", "end", "exit", "banner", "motd", "^C", "-", ",",
         "permit", "deny", "host", "any", "eq", "range", "established", "tcp", "udp", "icmp",
         "0.0.0.256", "255.255.255.255", "0.0.0.0", "255.0.255.0", "1.2.3", "/33", "/24",
         "fa0/99", "fa0/0", "Fa0/24", "Gi0/3", "Vlan0", "Vlan4095", "Dialer1", "Null0", "fa0/1.10",
         "0", "-1", "65536", "4294967296", "9" * 40, "\u00b2", "\u0661", "\uff11", "caf\u00e9",
         "secondary", "negotiated", "interface range fa0/2 - 99", "end", "!", "#"]
CONTROLS = [chr(c) for c in range(32)] + ["\x7f", "\x85", "\u2028", "\x1b[31m", "\r", "\x0c"]


@contextmanager
def time_limit(seconds: int):
    def expired(signum, frame):
        raise TimeoutError(f"one config took more than {seconds} s: a hang")
    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def payloads() -> st.SearchStrategy[bytes]:
    """What a corruption puts in: a token, bytes, control characters or a very long run."""
    text = st.one_of(
        st.sampled_from(VOCAB),
        st.tuples(st.sampled_from(["", " "]), st.lists(st.sampled_from(VOCAB), min_size=1, max_size=8))
        .map(lambda t: t[0] + " ".join(t[1])),   # a whole line of keywords, top level or indented
        st.lists(st.sampled_from(CONTROLS), min_size=1, max_size=4).map("".join),
        st.text(max_size=8),
        st.builds(lambda c, n: c * n, st.sampled_from(["A", "9", "1-", "/", ".", "\x1b"]),
                  st.sampled_from([200, 5000, 200_000])),
    )
    raw = st.one_of(st.binary(min_size=1, max_size=12),
                    st.sampled_from([b"\xff", b"\xc3", b"\xe9", b"\x80abc", b"\xed\xa0\x80", b"\x00"]))
    # mostly text: a byte that is not UTF-8 stops the whole file at the decoder
    return st.one_of(*[text.map(lambda t: t.encode("utf-8"))] * 6, raw)


def ops() -> st.SearchStrategy[tuple]:
    where = st.floats(0, 1, allow_nan=False)
    return st.one_of(
        st.tuples(st.just("delete"), where),
        st.tuples(st.just("duplicate"), where),
        st.tuples(st.just("swap"), where, where),
        st.tuples(st.just("insert"), where, payloads()),
        st.tuples(st.just("token"), where, where, payloads()),
        st.tuples(st.just("bytes"), where, payloads()),
        st.tuples(st.just("truncate"), where),
    )


def _at(seq_len: int, f: float) -> int:
    return min(int(f * seq_len), max(seq_len - 1, 0))


def mutate(data: bytes, edits: list[tuple], encoding: str) -> bytes:
    lines = data.split(b"\n")
    for op in edits:
        if not lines:
            lines = [b""]
        i = _at(len(lines), op[1])
        if op[0] == "delete":
            del lines[i]
        elif op[0] == "duplicate":
            lines.insert(i, lines[i])
        elif op[0] == "swap":
            j = _at(len(lines), op[2])
            lines[i], lines[j] = lines[j], lines[i]
        elif op[0] == "insert":
            lines.insert(i, op[2])
        elif op[0] == "token":
            words = lines[i].split(b" ")
            words[_at(len(words), op[2])] = op[3]
            lines[i] = b" ".join(words)
        elif op[0] == "bytes":
            pos = _at(len(lines[i]) + 1, op[1])
            lines[i] = lines[i][:pos] + op[2] + lines[i][pos:]
        elif op[0] == "truncate":
            joined = b"\n".join(lines)
            lines = joined[:int(op[1] * len(joined))].split(b"\n")
    out = b"\n".join(lines)
    if encoding != "utf-8":   # the same text saved in another encoding
        out = out.decode("utf-8", "replace").encode(encoding, "replace")
    return out


def check_diagnostic(d: Diagnostic, path: Path) -> None:
    shown = str(d)
    assert "\n" not in shown and not CONTROL.search(shown), repr(shown[:300])
    assert len(shown) <= MAX_LINE, f"{len(shown)} characters: {shown[:200]}..."
    assert re.match(re.escape(str(path)) + r":[1-9][0-9]*: ", shown), shown[:300]
    for part in (d.message, d.fix):   # also safe for callers that print the fields alone
        assert not CONTROL.search(part) and len(part) <= 700, repr(part[:300])
    assert "internal error" not in d.message, shown


@settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(seed=st.sampled_from(sorted(SEEDS)), edits=st.lists(ops(), min_size=1, max_size=4),
       encoding=st.sampled_from(["utf-8"] * 20 + ["utf-16", "utf-16-le", "latin-1", "cp1252"]),
       platform=st.sampled_from(["seed"] * 6 + [None, None, "switch", "router"]))
def test_mutated_configs_load_or_fail_with_one_line_each(tmp_path_factory, seed, edits, encoding, platform):
    path = tmp_path_factory.mktemp("fuzz") / seed
    path.write_bytes(mutate(SEEDS[seed], edits, encoding))
    if platform == "seed":   # mostly the platform the seed was written for
        platform = "router" if seed == "router.ios" else "switch"
    with time_limit(SECONDS_PER_EXAMPLE):
        try:
            cfg = load(path, platform=platform)
        except IosConfigError as e:
            assert e.diagnostics, "an IosConfigError with no diagnostics"
            for d in e.diagnostics:
                check_diagnostic(d, path)
            return
        for d in cfg.warnings:
            check_diagnostic(d, path)
        try:
            t = translate(cfg, path.parent / "run", wan={"Dialer1": "100.64.0.2/30"})
        except IosConfigError as e:
            for d in e.diagnostics:
                check_diagnostic(d, path)
            return
        t.script()
        for d in t.notes:
            check_diagnostic(d, path)


def test_the_mutator_makes_what_it_says():
    base = b"a b\nc d\ne f\n"
    assert mutate(base, [("delete", 0.0)], "utf-8") == b"c d\ne f\n"
    assert mutate(base, [("swap", 0.0, 0.3)], "utf-8") == b"c d\na b\ne f\n"
    assert mutate(base, [("token", 0.0, 0.9, b"\xff")], "utf-8") == b"a \xff\nc d\ne f\n"
    assert mutate(base, [("truncate", 0.5)], "utf-8") == b"a b\nc "
    assert mutate(base, [("duplicate", 0.0)], "utf-16").startswith(b"\xff\xfe")


def test_lint_and_bring_up_read_the_file_as_load_does(tmp_path):
    """The ios service reads the same file at lint and at render: same decoder, same error."""
    from labkit.ios.service import IosService
    from labkit.lab.errors import ServiceError
    from labkit.lab.model import ServiceSpec

    p = tmp_path / "r.ios"
    p.write_bytes(b"hostname r\n description caf\xe9\n")
    spec = ServiceSpec(kind="ios", name="ios", params={"config": p}, where="topo.yaml:1")
    (d,) = IosService.lint(spec)
    assert str(d) == f"{p}:2: the file is not UTF-8 text: byte 0xe9 (byte offset 27) " \
                     "(fix: save the file as UTF-8 (or plain ASCII) text)"
    node = type("Node", (), {"name": "n1", "run_dir": tmp_path, "spec": None})()
    svc = IosService(node, spec)
    svc.ios_path = lambda: p
    try:
        svc.render()
    except ServiceError as e:
        assert "byte offset 27" in str(e)
    else:
        raise AssertionError("render() accepted a file that is not UTF-8")
