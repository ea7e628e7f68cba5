"""labkit.pbx.dialplan under generated bad input: mutants of the seed's two Asterisk files.

Each example starts from topologies/acd/sip.conf and extensions.conf and deletes,
duplicates, swaps or corrupts lines and tokens of one or both (dial-plan keywords,
random bytes, control characters, very long tokens, bytes that are not UTF-8, other
encodings, truncation). For every one, `load()` gives a Dialplan or raises
DialplanError, never another exception and never a hang (each example runs under an
alarm); every diagnostic prints as one safe, bounded line `FILE:LINE: ...` naming one of
the two files; and a plan that loaded routes without error, its regexes agreeing with
Asterisk's matching. The run is derandomized, so CI sees the same 2,000 inputs every time.
"""
from __future__ import annotations

import re
from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st
from test_ios_fuzz import check_diagnostic as check_one_file, mutate, ops as generic_ops, time_limit

from labkit.diag import Diagnostic
from labkit.pbx.dialplan import Dialplan, DialplanError, asterisk_match, dialled, load

ROOT = Path(__file__).resolve().parents[1]
NAMES = ("sip.conf", "extensions.conf")
SEEDS = {name: (ROOT / "topologies" / "acd" / name).read_bytes() for name in NAMES}
EXAMPLES = 2000
SECONDS_PER_EXAMPLE = 5      # far above the few milliseconds one takes: only a hang trips it
PROBES = ["queue1", "phone1", "*44", "*45", "h", "i", "", "-", "acdlogin", "5551234", "phone-2"]

# Tokens that reach deep into both parsers: keys, sections, extension syntax, near misses.
VOCAB = ["[", "]", "[general]", "[globals]", "[phones]", "[fxo]", "[acdserver]", "[phone1]", "[x](!)",
         "exten", "=>", "=", "+=", ",", "1", "2", "n", "hint", "same", "include", "switch", "ignorepat",
         "Dial(", ")", "Dial(SIP/${EXTEN})", "Dial(SIP/a/b/c)", "Dial(SIP/x,30)", "Answer()", "Queue(q)",
         "SIP/", "PJSIP/", "${EXTEN}", "${EXTEN:1}", "&", "@", "/", "_", "_.", "_!", "_X.", "_x.", "_[",
         "_[]", "_[9-1]", "_[a-]", "_1.2", "_pho[n]e.", "_phone.", "*44", "exten => _.,1,Dial(SIP/${EXTEN})",
         "type", "friend", "peer", "user", "host", "dynamic", "port", "secret", "context", "subscribecontext",
         "qualify=yes", "allow=ulaw", "0.0.0.0", "192.168.2.256", "010.0.0.1", "65536", "0", "-1",
         "9" * 40, ";", "\\;", ";--", "--;", "#include x", "#exec y", "\u00b2", "\u0661", "caf\u00e9", "\ufeff"]


def payloads() -> st.SearchStrategy[bytes]:
    """Dial-plan tokens, alone or as a line; test_ios_fuzz's own ops add bytes, control
    characters, very long runs and other encodings."""
    return st.one_of(st.sampled_from(VOCAB), st.lists(st.sampled_from(VOCAB), min_size=1, max_size=8)
                     .flatmap(lambda words: st.sampled_from([" ".join(words), "".join(words)]))
                     ).map(lambda t: t.encode("utf-8"))


def ops() -> st.SearchStrategy[tuple]:
    where = st.floats(0, 1, allow_nan=False)
    return st.one_of(generic_ops(), st.tuples(st.just("insert"), where, payloads()),
                     st.tuples(st.just("token"), where, where, payloads()))


def check_diagnostic(d: Diagnostic, paths: tuple[Path, Path]) -> None:
    """test_ios_fuzz's check (one safe, bounded line FILE:LINE), FILE being one of the two."""
    assert d.file in map(str, paths), str(d)[:300]
    check_one_file(d, Path(d.file))


def exercise(plan: Dialplan) -> None:
    """A plan that loaded answers routes, and its regexes agree with Asterisk's matching."""
    for ctx in plan.contexts.values():
        for ext in ctx.extens:
            for probe in PROBES:
                assert bool(re.fullmatch(ext.regex, dialled(probe))) == asterisk_match(ext.pattern, probe)
    for name in plan.peers:
        for probe in PROBES:
            for subscribe in (False, True):
                hit = plan.route(name, probe, subscribe)
                if hit is not None:
                    hit.target.resolve(probe)


@settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(which=st.sampled_from(["sip.conf", "extensions.conf", "both"]),
       edits=st.lists(ops(), min_size=1, max_size=4), more=st.lists(ops(), min_size=1, max_size=3),
       encoding=st.sampled_from(["utf-8"] * 20 + ["utf-16", "utf-16-le", "latin-1", "cp1252"]))
def test_mutated_dial_plans_load_or_fail_with_one_line_each(tmp_path_factory, which, edits, more, encoding):
    folder = tmp_path_factory.mktemp("fuzz")
    paths = (folder / NAMES[0], folder / NAMES[1])
    for name, path in zip(NAMES, paths):
        data = SEEDS[name]
        if which in (name, "both"):
            data = mutate(data, more if (which == "both" and name == NAMES[0]) else edits, encoding)
        path.write_bytes(data)
    with time_limit(SECONDS_PER_EXAMPLE):
        plan: Dialplan | None = None
        try:
            plan = load(*paths)
        except DialplanError as e:
            found = e.diagnostics
        else:
            found = list(plan.warnings)
        assert any(d.is_error for d in found) == (plan is None), "errors and a plan, or neither"
        for d in found:
            check_diagnostic(d, paths)
        if plan is not None:
            exercise(plan)
