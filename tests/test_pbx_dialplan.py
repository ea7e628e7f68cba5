"""labkit.pbx.dialplan: the seed's sip.conf/extensions.conf, routes, Asterisk's match order,
patterns against Asterisk's matching rules, and bad input reported as one FILE:LINE line."""
from __future__ import annotations

import ctypes
import ctypes.util
import re
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from labkit.pbx.dialplan import (EXTEN, Dial, DialplanError, asterisk_match, dialled, lint, load,
                                 order_key, pattern_regex)

ROOT = Path(__file__).resolve().parents[1]
SIP = (ROOT / "topologies" / "acd" / "sip.conf").read_text()
EXT = (ROOT / "topologies" / "acd" / "extensions.conf").read_text()


def write(tmp_path: Path, sip: str | bytes = SIP, ext: str | bytes = EXT) -> tuple[Path, Path]:
    paths = tmp_path / "sip.conf", tmp_path / "extensions.conf"
    for p, text in zip(paths, (sip, ext)):
        p.write_bytes(text if isinstance(text, bytes) else text.encode())
    return paths


def plan_of(tmp_path: Path, ext: str, sip: str = SIP):
    return load(*write(tmp_path, sip, ext))


# ---------------------------------------------------------------- the seed

def test_the_seed_files_load_with_exactly_the_two_catch_all_warnings():
    plan = load(ROOT / "topologies/acd/sip.conf", ROOT / "topologies/acd/extensions.conf")
    assert sorted(plan.peers) == ["acdserver", "gateway", "phone1", "phone2"]
    assert sorted(plan.contexts) == ["acdpresence", "acdserver", "fxo", "phones"]
    assert [(w.line, w.rule, w.severity) for w in plan.warnings] == [(6, "catch-all", "warning"),
                                                                    (10, "catch-all", "warning")]
    assert str(plan.warnings[0]) == (
        f"{ROOT}/topologies/acd/extensions.conf:6: warning: pattern '_.' also matches Asterisk's special "
        "extensions h (hangup) and i (invalid), so it is discouraged (fix: a narrower pattern such as "
        "_pho[n]e. or _X.)")
    acd = plan.peers["acdserver"]
    assert (acd.host, acd.secret, acd.context, acd.subscribecontext, acd.port) == \
        (None, "acdsecret", "acdserver", "acdpresence", 5060)
    gw = plan.peers["gateway"]
    assert (gw.host, gw.port, gw.secret, gw.context, gw.type, gw.dynamic) == \
        ("192.168.2.2", 5060, None, "fxo", "peer", False)
    assert plan.peers["phone2"].secret == "phone2secret"


def test_the_seed_routes():
    plan = load(ROOT / "topologies/acd/sip.conf", ROOT / "topologies/acd/extensions.conf")
    q = plan.route("gateway", "queue1")
    assert (q.pattern, q.app, q.target, q.regex) == ("_queue.", "dial", Dial(EXTEN), "^queue.+$")
    assert q.target.resolve("queue1") == ("queue1", None)
    login = plan.route("phone1", "*44")
    assert (login.pattern, login.target, login.where.line) == ("*44", Dial("acdserver", "acdlogin"), 13)
    assert login.target.resolve("*44") == ("acdserver", "acdlogin")
    assert plan.route("phone2", "*45").target == Dial("acdserver", "acdlogout")
    assert plan.route("phone1", "phone2").target.resolve("phone2") == ("phone2", None)
    assert plan.route("phone1", "queue1") is None          # phones may not call a queue
    assert plan.route("gateway", "phone1") is None         # nor the gateway a phone
    hint = plan.route("acdserver", "phone1", subscribe=True)
    assert (hint.app, hint.pattern, hint.target.resolve("phone1")) == ("hint", "_.", ("phone1", None))
    assert plan.route("acdserver", "phone1").app == "dial"  # a call from the ACD: its context's Dial
    assert plan.route("phone1", "phone2", subscribe=True) is None   # no hint in [phones]
    with pytest.raises(KeyError):
        plan.route("phone3", "*44")


def test_the_seed_read_with_a_bom_and_crlf_gives_the_same_plan(tmp_path):
    crlf = lambda t: b"\xef\xbb\xbf" + t.replace("\n", "\r\n").encode()   # noqa: E731
    plain = load(*write(tmp_path, SIP, EXT))
    other = tmp_path / "b"
    other.mkdir()
    windows = load(*write(other, crlf(SIP), crlf(EXT)))
    strip = lambda p: {n: [(e.pattern, e.regex, e.app, e.target, e.where.line) for e in c.extens]  # noqa: E731
                       for n, c in p.contexts.items()}
    assert strip(windows) == strip(plain)
    assert {n: p.secret for n, p in windows.peers.items()} == {n: p.secret for n, p in plain.peers.items()}


# ---------------------------------------------------------------- Asterisk's order

ORDER_CONTEXT = """[order]
exten => _.,1,Dial(SIP/any)
exten => _1!,1,Dial(SIP/one-bang)
exten => _X.,1,Dial(SIP/x-dot)
exten => _1.,1,Dial(SIP/one-dot)
exten => _N,1,Dial(SIP/n)
exten => _[13],1,Dial(SIP/set13)
exten => _[2-4],1,Dial(SIP/set234)
exten => _[12],1,Dial(SIP/set12)
exten => _1X.,1,Dial(SIP/one-x-dot)
exten => _12!,1,Dial(SIP/one-two-bang)
exten => 123,1,Dial(SIP/literal)
exten => _[0-9a-f]X,1,Dial(SIP/hexset)
exten => _XX,1,Dial(SIP/xx)
"""


def order_plan(tmp_path):
    sip = "[p]\ntype=friend\nhost=dynamic\nsecret=s\ncontext=order\n"
    return plan_of(tmp_path, ORDER_CONTEXT, sip)


def test_extensions_are_in_asterisks_order_literal_first_then_fewer_choices_first(tmp_path):
    ctx = order_plan(tmp_path).contexts["order"]
    assert [e.pattern for e in ctx.extens] == [
        "123",                    # a literal before every pattern, wherever it is written
        "_12!",                   # position 2: '2' (one character) before X (ten)
        "_1X.", "_1.", "_1!",     # then X, then '.', then '!' ('.' before '!')
        "_[12]", "_[13]",         # two characters each, lowest first; then by the characters
        "_[2-4]",                 # three characters
        "_N",                     # eight (N: 2-9)
        "_XX", "_X.",             # ten; at position 2, X before '.'
        "_[0-9a-f]X",             # sixteen: a big set comes after X
        "_.",                     # '.' after everything
    ]
    assert sorted(["_.", "_X.", "*44", "_pho[n]e."], key=order_key) == ["*44", "_pho[n]e.", "_X.", "_."]


@pytest.mark.parametrize("dialled_, target", [
    ("123", "literal"), ("124", "one-two-bang"), ("12", "one-two-bang"), ("134", "one-x-dot"),
    ("1a", "one-dot"), ("1", "one-bang"), ("2", "set12"), ("3", "set13"), ("4", "set234"), ("9", "n"),
    ("55", "xx"), ("a5", "hexset"), ("555", "x-dot"), ("phone1", "any"), ("1-2-3", "literal"),
])
def test_match_takes_the_first_in_asterisks_order(tmp_path, dialled_, target):
    assert order_plan(tmp_path).contexts["order"].match(dialled_).target.peer == target


def test_match_skips_extensions_of_the_other_application(tmp_path):
    ext = "[c]\nexten => _X.,1,Dial(SIP/a)\nexten => _.,hint,SIP/${EXTEN}\n"
    ctx = plan_of(tmp_path, ext, "[p]\ntype=friend\nhost=dynamic\nsecret=s\ncontext=c\n").contexts["c"]
    assert ctx.match("55", "hint").pattern == "_."        # _X. comes first but has no hint
    assert ctx.match("55").pattern == "_X."
    assert ctx.match("ab") is None


def test_an_extension_an_earlier_one_matches_entirely_is_unreachable(tmp_path):
    sip = "[p]\ntype=friend\nhost=dynamic\nsecret=s\ncontext=c\n"
    ext = ("[c]\nexten => _1,1,Dial(SIP/a)\nexten => _1!,1,Dial(SIP/b)\nexten => _123,1,Dial(SIP/c)\n"
           "exten => 123,1,Dial(SIP/d)\nexten => _X.,1,Dial(SIP/e)\nexten => _1X.,1,Dial(SIP/f)\n"
           "exten => _1,hint,SIP/g\n")
    plan = plan_of(tmp_path, ext, sip)
    assert [(w.line, w.rule) for w in plan.warnings] == [(2, "unreachable"), (4, "unreachable")]
    assert str(plan.warnings[0]) == (
        f"{tmp_path}/extensions.conf:2: warning: extension '_1' can never match: '_1!' (line 3) comes first in "
        "Asterisk's order and matches everything it does (fix: remove this line, or narrow the earlier one)")
    assert plan.route("p", "1").pattern == "_1!" and plan.route("p", "123").pattern == "123"
    assert plan.route("p", "1", subscribe=True).pattern == "_1"   # hints are another application


def test_a_literal_written_after_a_catch_all_is_not_shadowed(tmp_path):
    """Asterisk tries an exact match before any pattern, wherever it is written."""
    sip = "[p]\ntype=friend\nhost=dynamic\nsecret=s\ncontext=c\n"
    plan = plan_of(tmp_path, "[c]\nexten => _.,1,Dial(SIP/a)\nexten => *44,1,Dial(SIP/b)\n", sip)
    assert [w.rule for w in plan.warnings] == ["catch-all"]
    assert plan.route("p", "*44").target == Dial("b") and plan.route("p", "*45").target == Dial("a")


# ---------------------------------------------------------------- patterns

@pytest.mark.parametrize("pattern, yes, no", [
    ("_X.", ["12", "1a", "0*"], ["1", "a1", ""]),
    ("_x.", ["12"], ["x1"]),                            # x is X, in either case (Asterisk's pbx.c)
    ("_9nZ", ["921", "931"], ["911", "9n1", "901"]),
    ("_pho[n]e.", ["phone1", "phone-2"], ["phone", "PHONE1", "pho5e1"]),
    ("_phone.", ["pho5e1"], ["phone1"]),                 # the seed's reason for [n]
    ("_[1-3a-c#]!", ["1", "b77", "#", "c"], ["4", "d", "", "A"]),
    ("_1!", ["1", "1-", "12"], ["2", ""]),
    ("_.", ["h", "i", "-a"], ["", "-", "--"]),
    ("*44", ["*44", "*-44"], ["*4", "*440", "#44"]),
    ("_+1NXX", ["+1200", "+1999"], ["+1100", "+120", "1200"]),
])
def test_patterns_match_what_asterisk_matches(pattern, yes, no):
    rx = pattern_regex(pattern)
    for s in yes:
        assert asterisk_match(pattern, s) and re.fullmatch(rx, dialled(s)), (pattern, s)
    for s in no:
        assert not asterisk_match(pattern, s) and not re.fullmatch(rx, dialled(s)), (pattern, s)


def test_regexes_use_only_portable_ere():
    assert pattern_regex("_X.") == "^[0-9].+$"
    assert pattern_regex("_N!") == "^[2-9].*$"
    assert pattern_regex("_[1235-7ab*]") == "^[1-35-7*ab]$"
    assert pattern_regex("*4+#") == "^[*]4[+]#$"
    assert pattern_regex("_Z[13]") == "^[1-9][13]$"


LIBC = ctypes.CDLL(ctypes.util.find_library("c"))
REG_EXTENDED, REG_NOSUB = 1, 8


def posix_fullmatch(regex: str, s: str) -> bool:
    """regcomp(3)/regexec(3), as Kamailio calls them (without its REG_ICASE)."""
    buf = ctypes.create_string_buffer(1024)     # larger than glibc's regex_t
    assert LIBC.regcomp(buf, regex.encode(), REG_EXTENDED | REG_NOSUB) == 0, regex
    try:
        return LIBC.regexec(buf, s.encode(), 0, None, 0) == 0
    finally:
        LIBC.regfree(buf)


LITERALS = "0123456789abcpheAB*#+"
ALPHABET = LITERALS + "xznXZN-"


@st.composite
def patterns(draw) -> str:
    """A valid pattern: literal characters, X/Z/N in either case, sets with ranges, '.'/'!' at the end."""
    out = []
    for _ in range(draw(st.integers(0 if draw(st.booleans()) else 1, 5))):
        kind = draw(st.sampled_from(["lit", "lit", "wild", "set"]))
        if kind == "lit":
            out.append(draw(st.sampled_from(LITERALS)))
        elif kind == "wild":
            out.append(draw(st.sampled_from("xznXZN")))
        else:
            members = draw(st.lists(st.one_of(st.sampled_from(LITERALS + "xzn"),
                                              st.sampled_from(["0-9", "2-5", "a-c", "x-z", "A-C", "5-5"])),
                                    min_size=1, max_size=4))
            out.append("[" + "".join(members) + "]")
    tail = draw(st.sampled_from(["", "", ".", "!"]))
    if not out and not tail:
        tail = "."
    return "_" + "".join(out) + tail


@st.composite
def near(draw, pattern: str) -> str:
    """A string built from the pattern's own characters, then perhaps changed: mostly near misses."""
    chars = []
    for m in re.finditer(r"\[([^\]]*)\]|.", pattern[1:]):
        if m.group(1) is not None:
            chars.append(draw(st.sampled_from(m.group(1).replace("-", "") or "0")))
        elif m.group() in ".!":
            chars.append(draw(st.text(ALPHABET, max_size=3)))
        elif m.group().lower() in "xzn":
            chars.append(draw(st.sampled_from("0123456789" + m.group())))
        else:
            chars.append(m.group())
    s = "".join(chars)
    if draw(st.booleans()):
        i = draw(st.integers(0, len(s)))
        s = s[:i] + draw(st.text(ALPHABET, max_size=2)) + s[i + draw(st.integers(0, 1)):]
    return s


@settings(max_examples=600, deadline=None, derandomize=True)
@given(st.data())
def test_the_regex_matches_exactly_what_asterisk_matches(data):
    pattern = data.draw(st.one_of(patterns(), st.text(LITERALS, min_size=1, max_size=4)))
    rx = pattern_regex(pattern)
    assert re.fullmatch(r"\^[0-9A-Za-z*#+\[\]\-.]*\$", rx), rx      # literal, [..], .+ and .* only
    for s in data.draw(st.lists(st.one_of(near(pattern) if pattern.startswith("_") else st.just(pattern),
                                          st.text(ALPHABET, max_size=6)), min_size=1, max_size=6)):
        expected = asterisk_match(pattern, s)
        assert bool(re.fullmatch(rx, dialled(s))) == expected, (pattern, rx, s)
        assert posix_fullmatch(rx, dialled(s)) == expected, (pattern, rx, s)
        if "-" not in s:
            assert bool(re.fullmatch(rx, s)) == expected


def test_x_z_n_are_case_insensitive_and_equal_patterns_are_one_extension(tmp_path):
    sip = "[p]\ntype=friend\nhost=dynamic\nsecret=s\ncontext=c\n"
    ctx = plan_of(tmp_path, "[c]\nexten => _9x.,1,Dial(SIP/a)\n", sip).contexts["c"]
    assert ctx.match("912").pattern == "_9x." and ctx.match("9x2") is None
    with pytest.raises(DialplanError) as e:
        plan_of(tmp_path, "[c]\nexten => _9X.,1,Dial(SIP/a)\nexten => _9x.,1,Dial(SIP/b)\n", sip)
    assert str(e.value) == (f"{tmp_path}/extensions.conf:3: duplicate extension '_9x.' priority 1 in [c]: "
                            "'_9X.', the same to Asterisk, is at line 2 (fix: keep one of the two lines)")


def test_a_lowercase_n_meant_as_a_letter_is_a_warning(tmp_path):
    sip = "[p]\ntype=friend\nhost=dynamic\nsecret=s\ncontext=c\n"
    plan = plan_of(tmp_path, "[c]\nexten => _phone.,1,Dial(SIP/${EXTEN})\n", sip)
    (w,) = plan.warnings
    assert (w.rule, str(w)) == ("wildcard-letter", (
        f"{tmp_path}/extensions.conf:2: warning: in pattern '_phone.' a lowercase 'n' is Asterisk's N "
        "(a digit), not a letter, so it does not match 'phone1' (fix: write the letter as a set: _pho[n]e.)"))
    assert plan.route("p", "phone1") is None and plan.route("p", "pho2e1") is not None
    assert plan_of(tmp_path, "[c]\nexten => _9nxx,1,Dial(SIP/a)\n", sip).warnings == ()


@pytest.mark.parametrize("pattern, warned", [
    ("_.", "extensions h (hangup) and i (invalid)"),
    ("_[a-z]!", "extensions h (hangup) and i (invalid)"),     # not spelled _. but as wide for h and i
    ("_[g-h]", "extension h (hangup)"),
    ("_[i-k].", None),                                          # needs two characters: not i itself
    ("_[i-k]!", "extension i (invalid)"),
    ("_[a-g]!", None),
    ("_X.", None),
])
def test_the_catch_all_warning_follows_what_the_pattern_matches(tmp_path, pattern, warned):
    sip = "[p]\ntype=friend\nhost=dynamic\nsecret=s\ncontext=c\n"
    plan = plan_of(tmp_path, f"[c]\nexten => {pattern},1,Dial(SIP/a)\n", sip)
    got = [str(w) for w in plan.warnings if w.rule == "catch-all"]
    if warned is None:
        assert got == []
    else:
        assert got == [f"{tmp_path}/extensions.conf:2: warning: pattern '{pattern}' also matches Asterisk's "
                       f"special {warned}, so it is discouraged (fix: a narrower pattern such as _pho[n]e. or _X.)"]


def test_an_upper_case_wildcard_next_to_letters_is_no_warning(tmp_path):
    """Only a lower-case x/z/n can be a letter the writer meant; _queueX. says what it means."""
    sip = "[p]\ntype=friend\nhost=dynamic\nsecret=s\ncontext=c\n"
    plan = plan_of(tmp_path, "[c]\nexten => _queueX.,1,Dial(SIP/${EXTEN})\nexten => _aN[x]Z,1,Dial(SIP/b)\n", sip)
    assert plan.warnings == ()
    assert plan.route("p", "queue12").pattern == "_queueX." and plan.route("p", "queueX1") is None
    assert plan.route("p", "a2x1").pattern == "_aN[x]Z"


def test_case_matters_for_letters_and_the_model_says_so(tmp_path):
    plan = load(ROOT / "topologies/acd/sip.conf", ROOT / "topologies/acd/extensions.conf")
    assert plan.route("phone1", "PHONE1") is None
    phones = plan.contexts["phones"].extens
    assert [e.needs_case_sensitive_match for e in phones] == [False, False, True]


# ---------------------------------------------------------------- bad input

PEER = "[p]\ntype=friend\nhost=dynamic\nsecret=s\ncontext=phones\n"


N_SIP, N_EXT = SIP.count("\n"), EXT.count("\n")
L = lambda text, needle: text[:text.index(needle)].count("\n") + 1   # noqa: E731
TEXT = {"sip": SIP, "ext": EXT}


def added(which: str, *lines: str):
    """Lines appended to the seed's file `which` ("sip" or "ext"); the first is where the error is."""
    return which, lambda text: text + "\n".join(lines) + "\n", TEXT[which].count("\n") + 1


def changed(which: str, old: str, new: str, below: int = 0, at: str = ""):
    """The seed's `old` replaced by `new`; the error is `below` lines under where `at` (else `old`) was."""
    return which, lambda text: text.replace(old, new, 1), L(TEXT[which], at or old) + below


BAD = [
    # (id, (file "sip" or "ext", edit of its text, line of the error), message after "FILE:LINE: ")
    ("unsupported app", added("ext", "exten => 100,1,Answer()"),
     "application Answer() is not supported: labkit reads Dial(SIP/...) and hints "
     "(fix: route the call with Dial(SIP/NAME) or Dial(SIP/PEER/USER))"),
    ("priority 2", added("ext", "exten => 100,2,Dial(SIP/phone1)"),
     "priority '2' is not supported: labkit reads priority 1 (one Dial per extension) and hint "
     "(fix: give each extension one line: EXT,1,Dial(...))"),
    ("priority n", added("ext", "exten => 100,n,Dial(SIP/phone1)"),
     "priority 'n' is not supported: labkit reads priority 1 (one Dial per extension) and hint "
     "(fix: give each extension one line: EXT,1,Dial(...))"),
    ("unknown sip key", changed("sip", "context=fxo\n", "context=fxo\nqualifi=yes\n", below=1),
     "unknown key 'qualifi' in peer [gateway] (fix: did you mean 'qualify'?)"),
    ("context missing", changed("sip", "context=fxo", "context=fxoo"),
     "context=fxoo of peer [gateway] is not a context of extensions.conf "
     "(fix: did you mean 'fxo'? add [fxoo] to extensions.conf)"),
    ("subscribecontext missing", changed("sip", "subscribecontext=acdpresence", "subscribecontext=presence"),
     "subscribecontext=presence of peer [acdserver] is not a context of "
     "extensions.conf (fix: did you mean 'acdpresence'? add [presence] to extensions.conf)"),
    ("unclosed [", added("ext", "exten => _1[23,1,Dial(SIP/phone1)"),
     "unclosed '[' in pattern '_1[23' (fix: close the set with ']')"),
    ("dot in the middle", added("ext", "exten => _1.2,1,Dial(SIP/phone1)"),
     "'.' in the middle of pattern '_1.2': it matches the rest of the number, so it must be the last "
     "character (fix: move the '.' to the end)"),
    ("empty pattern", added("ext", "exten => _,1,Dial(SIP/phone1)"),
     "empty pattern '_' (fix: write what to match after the '_', e.g. _X.)"),
    ("duplicate exten", changed("ext", "[fxo]\n", "[fxo]\nexten => _queue.,1,Dial(SIP/phone1)\n", below=2),
     f"duplicate extension '_queue.' priority 1 in [fxo]: it is at line {L(EXT, '[fxo]') + 1} "
     "(fix: keep one of the two lines)"),
    ("peer in Dial unknown", changed("ext", "SIP/acdserver/acdlogout", "SIP/acdsrv/acdlogout"),
     "Dial(SIP/acdsrv/acdlogout): 'acdsrv' is not a peer of sip.conf "
     "(fix: did you mean 'acdserver'? add [acdsrv] to sip.conf)"),
    ("line outside a section", ("sip", lambda t: "type=friend\n" + t, 1),
     "'type=friend' is outside a section (fix: put it under a [section] header, or comment it out with ';')"),
    ("non-UTF-8 byte", ("ext", lambda t: t.encode().replace(b"[fxo]", b"[fx\xe9]"), L(EXT, "[fxo]")),
     f"the file is not UTF-8 text: byte 0xe9 (byte offset {EXT.index('[fxo]') + 3}) "
     "(fix: save the file as UTF-8 (or plain ASCII) text)"),
    ("NUL byte", ("sip", lambda t: t.encode() + b"[x]\x00\n", N_SIP + 1),
     f"NUL byte: this is not a text file (byte offset {len(SIP) + 3}) "
     "(fix: give the path of sip.conf (a text file))"),
    ("duplicate section", added("sip", "[Phone1]", "type=friend"),
     "duplicate section [Phone1]: [phone1] is at line " + str(L(SIP, "[phone1]")) +
     " (fix: merge the two sections (Asterisk names are case-insensitive))"),
    ("duplicate key", changed("sip", "host=192.168.2.2\n", "host=192.168.2.2\nhost=192.168.2.3\n", below=1),
     f"duplicate key 'host' in [gateway]: it is at line {L(SIP, 'host=192.168.2.2')} "
     "(fix: keep one of the two lines)"),
    ("bad host", changed("sip", "host=192.168.2.2", "host=gw.example"),
     "host=gw.example in [gateway] is not 'dynamic' or an IPv4 host address (fix: host=dynamic for a phone "
     "that registers, or the peer's IPv4 address (labkit resolves no names))"),
    ("bad port", changed("sip", "host=192.168.2.2\n", "host=192.168.2.2\nport=70000\n", below=1),
     "port=70000 in [gateway] is not a port number (fix: a number from 1 to 65535)"),
    ("bad type", changed("sip", "type=peer", "type=trunk"),
     "type=trunk in [gateway] is not friend, peer or user (fix: type=friend (calls both ways), type=peer "
     "or type=user)"),
    ("missing secret", changed("sip", "secret=phone2secret\n", "", at="[phone2]"),
     "peer [phone2] registers (host=dynamic) but has no secret= "
     "(fix: add secret=PASSWORD: phones authenticate their REGISTER with digest)"),
    ("missing context", added("sip", "[p]", "type=peer", "host=10.0.0.1"),
     "peer [p] has no context= (fix: add context=NAME, the extensions.conf context its calls are routed in)"),
    ("include =>", added("ext", "include => phones"),
     "'include =>' is not supported: labkit routes a peer in its one context "
     "(fix: copy the extensions of the included context into this one)"),
    ("same =>", added("ext", "same => n,Hangup()"),
     "'same =>' is not supported (fix: write each line as exten => EXT,1,Dial(...) "
     "(labkit reads one priority))"),
    ("globals", added("ext", "[globals]", "X=1"),
     "[globals] (dial-plan variables) is not supported (fix: write the values into the extension lines)"),
    ("#include", added("sip", "#include other.conf"),
     "'#include' is not supported: labkit reads one file each (fix: copy the included lines into this file)"),
    ("dial options", added("ext", "exten => 100,1,Dial(SIP/phone1,30)"),
     "Dial arguments 'SIP/phone1,30': labkit reads one device and no options (fix: write Dial(SIP/NAME) alone "
     "(labkit rings until the caller or the callee ends the call))"),
    ("other technology", added("ext", "exten => 100,1,Dial(PJSIP/phone1)"),
     "device 'PJSIP/phone1' is not SIP/...: labkit reads chan_sip devices only "
     "(fix: write SIP/NAME, NAME a sip.conf peer or a registered user)"),
    ("user@peer", added("ext", "exten => 100,1,Dial(SIP/100@gateway)"),
     "'SIP/100@gateway': SIP/USER@PEER is not supported (fix: write SIP/PEER/USER)"),
    ("block comment", added("ext", ";-- a block", "--;"),
     "block comments (;-- ... --;) are not supported by labkit (fix: start every comment line with ';' "
     "(or write ';---' for a rule))"),
    ("bad set range", added("ext", "exten => _[9-1],1,Dial(SIP/phone1)"),
     "bad range '9-1' in pattern '_[9-1]' (fix: a range joins two digits or two letters of one case, "
     "lowest first: [2-5], [a-c])"),
]


@pytest.mark.parametrize("name, case, message", BAD, ids=[b[0] for b in BAD])
def test_each_kind_of_bad_input_is_one_line_naming_file_and_line(tmp_path, name, case, message):
    which, edit, line = case
    sip, ext = (edit(SIP), EXT) if which == "sip" else (SIP, edit(EXT))
    paths = write(tmp_path, sip, ext)
    with pytest.raises(DialplanError) as e:
        load(*paths)
    errors = e.value.errors
    assert len(errors) == 1, "\n".join(map(str, errors))
    path = paths[0] if which == "sip" else paths[1]
    assert str(errors[0]) == f"{path}:{line}: {message}"
    assert lint(*paths) == e.value.diagnostics      # lint says the same without raising


def test_dialling_a_user_is_an_error(tmp_path):
    sip = SIP + "[u]\ntype=user\nhost=dynamic\nsecret=s\ncontext=phones\n"
    ext = EXT + "[more]\nexten => 7,1,Dial(SIP/u/7)\n"
    sip_path, ext_path = write(tmp_path, sip, ext)
    (err,) = pytest.raises(DialplanError, load, sip_path, ext_path).value.errors
    assert str(err) == (f"{ext_path}:{N_EXT + 2}: Dial(SIP/u/7): [u] is type=user, which cannot be called "
                        "(fix: make [u] type=friend or type=peer)")


def test_every_error_is_reported_at_once_and_warnings_ride_along(tmp_path):
    sip = SIP.replace("type=peer", "type=trunk").replace("secret=phone2secret\n", "") + "[general]\nbindport=5060\n"
    ext = EXT + "exten => 100,2,Dial(SIP/x)\nexten => _1[,1,Dial(SIP/x)\n"
    paths = write(tmp_path, sip, ext)
    e = pytest.raises(DialplanError, load, *paths).value
    assert [(d.file.rsplit("/", 1)[1], d.line, d.severity) for d in e.diagnostics] == [
        ("sip.conf", L(sip, "[phone2]"), "error"), ("sip.conf", L(sip, "type=trunk"), "error"),
        ("extensions.conf", N_EXT + 1, "error"), ("extensions.conf", N_EXT + 2, "error"),
        ("sip.conf", L(sip, "bindport"), "warning"),
        ("extensions.conf", 6, "warning"), ("extensions.conf", 10, "warning")]
    assert str(e).count("\n") == len(e.diagnostics) - 1


def test_a_missing_file_is_one_error_naming_its_path(tmp_path):
    sip_path, _ = write(tmp_path)
    missing = tmp_path / "nope.conf"
    (d,) = lint(sip_path, missing)
    assert str(d) == f"{missing}: cannot read extensions.conf: No such file or directory " \
                     "(fix: check the path of extensions.conf)"


def test_utf16_is_one_error_on_line_1(tmp_path):
    paths = write(tmp_path, SIP.encode("utf-16"), EXT)
    (d,) = [d for d in lint(*paths) if d.is_error]
    assert str(d).startswith(f"{paths[0]}:1: the file is UTF-16 text, not UTF-8")


def test_ignored_and_general_keys_are_warnings_naming_their_line(tmp_path):
    sip = "[general]\nbindport=5060\n\n" + SIP.replace("host=192.168.2.2\n",
                                                       "host=192.168.2.2\nallow=ulaw\nallow=alaw\nqualify=yes\n")
    plan = load(*write(tmp_path, sip, EXT))
    mine = [(w.line, w.rule) for w in plan.warnings if w.file.endswith("sip.conf")]
    at = L(sip, "allow=ulaw")
    assert mine == [(2, "ignored-key"), (at, "ignored-key"), (at + 1, "ignored-key"), (at + 2, "ignored-key")]
    assert str(plan.warnings[1]) == (f"{tmp_path}/sip.conf:{at}: warning: 'allow' in [gateway] is ignored by "
                                     "labkit (fix: remove it, or keep it knowing it changes nothing in the lab)")


def test_escaped_semicolons_comments_and_arrows(tmp_path):
    sip = PEER.replace("secret=s", "secret = pa\\;ss ; the password") + "  ; a comment\n;--- a rule ---\n"
    plan = plan_of(tmp_path, "[phones]\nexten = 5 , 1 , Dial( SIP/p )\n", sip)
    assert plan.peers["p"].secret == "pa;ss"
    assert plan.route("p", "5").target == Dial("p")


def test_port_and_static_peers(tmp_path):
    sip = PEER + "[gw]\ntype=peer\nhost=10.1.2.3\nport=5070\ncontext=phones\n[d]\ntype=friend\nhost=dynamic\n" \
                 "secret=x\nport=5080\ncontext=phones\n"
    plan = plan_of(tmp_path, "[phones]\n", sip)
    assert (plan.peers["gw"].host, plan.peers["gw"].port) == ("10.1.2.3", 5070)
    assert [w.rule for w in plan.warnings] == ["port-dynamic"]


@pytest.mark.parametrize("host", ["0.0.0.0", "224.0.0.1", "255.255.255.255", "010.1.1.1", "1.2.3", "١.2.3.4"])
def test_hosts_that_are_no_peer_address_are_refused(tmp_path, host):
    sip = "[gw]\ntype=peer\nhost=" + host + "\ncontext=phones\n"
    (d,) = lint(*write(tmp_path, sip, "[phones]\n"))
    assert d.line == 3 and d.rule == "host"


def test_dial_forms(tmp_path):
    ext = "[phones]\nexten => 1,1,Dial(SIP/p)\nexten => 2,1,dial(sip/${EXTEN})\nexten => 3,1,Dial(SIP/p/${EXTEN})\n" \
          "exten => 4,1,Dial(SIP/acdlogin)\nexten => 5,hint,SIP/p\n"
    plan = plan_of(tmp_path, ext, PEER)
    got = {e.pattern: (e.app, e.target) for e in plan.contexts["phones"].extens}
    assert got == {"1": ("dial", Dial("p")), "2": ("dial", Dial(EXTEN)), "3": ("dial", Dial("p", EXTEN)),
                   "4": ("dial", Dial("acdlogin")), "5": ("hint", Dial("p"))}
    assert got["3"][1].resolve("3") == ("p", "3")
