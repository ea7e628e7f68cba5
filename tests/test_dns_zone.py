"""Zone-file parsing (the seed's syntax), named.conf reading, BIND rendering, nft rendering."""
import shutil
import subprocess
from pathlib import Path

import pytest
from dnslib import QTYPE

from labkit.dns.bind import BindConfig
from labkit.dns.namedconf import NamedConfError, parse_zones
from labkit.dns.secgroup import parse_allow, render_nft
from labkit.dns.zone import ZoneError, load_zone, parse_ttl, parse_zone_text

REPO = Path(__file__).resolve().parents[1]
SEED = REPO / "topologies" / "ec2"


def test_seed_zone_as_written():
    z = load_zone(SEED / "exampledomain.ca", "exampledomain.ca")
    got = [(r.line, r.name, QTYPE.get(r.rtype), r.ttl) for r in z.records]
    assert got == [
        (2, "exampledomain.ca.", "SOA", 300), (9, "exampledomain.ca.", "NS", 300),
        (10, "exampledomain.ca.", "A", 300), (11, "exampledomain.ca.", "MX", 300),
        (13, "ns.exampledomain.ca.", "A", 300), (14, "www.exampledomain.ca.", "A", 300),
        (15, "mail.exampledomain.ca.", "A", 300)]
    soa = z.soa.rdata
    assert soa.times == (2012220104, 3600, 900, 604800, 86400)          # 1H 15M 1W 1D
    assert str(z.rrset("exampledomain.ca", QTYPE.MX)[0].rdata) == "10 mail.exampledomain.ca."
    assert str(z.rrset("exampledomain.ca", QTYPE.NS)[0].rdata) == "ns."   # as written (the bug lint finds)


def test_ttl_units():
    assert parse_ttl("1W") == 604800 and parse_ttl("1h30m") == 5400 and parse_ttl("300") == 300
    with pytest.raises(ValueError):
        parse_ttl("1y")


def test_origin_ttl_class_order_quotes_and_comments():
    z = parse_zone_text(
        "$TTL 1h\n@ SOA ns hm (1 2 3 4 5)\n NS ns\n$ORIGIN sub.t.lab.\nx 60 IN A 10.0.0.1\n"
        "y IN 120 TXT \"a;b\" \"c d\" ; comment\n", "t.lab")
    assert z.rrset("x.sub.t.lab", QTYPE.A)[0].ttl == 60
    txt = z.rrset("y.sub.t.lab", QTYPE.TXT)[0]
    assert txt.ttl == 120 and txt.rdata.data == [b"a;b", b"c d"] and txt.line == 6


@pytest.mark.parametrize("text,line,word", [
    ("$TTL 300\n@ IN SOA ns hm (1 2 3 4 5\n", 2, "never closed"),
    ("$TTL 300\nwww IN A 1.2.3\n", 2, "bad A"),
    ("$TTL 300\nwww IN BOGUS x\n", 2, "unknown record type"),
    (" IN A 1.2.3.4\n", 1, "no owner"),
    ("www IN A 1.2.3.4\n", 1, "no TTL"),
    ("$TTL 300\nwww.other.lab. IN A 1.2.3.4\n", 2, "outside the zone"),
    ("$INCLUDE x\n", 1, "unsupported directive"),
])
def test_errors_name_the_line(text, line, word):
    with pytest.raises(ZoneError) as e:
        parse_zone_text(text, "t.lab", "f.zone")
    assert e.value.line == line and word in e.value.message and e.value.fix
    assert str(e.value).startswith(f"f.zone:{line}:")


def test_load_checks():
    z = parse_zone_text("$TTL 300\n@ IN SOA ns hm 1 2 3 4 5\n", "t.lab", "f")
    with pytest.raises(ZoneError, match="no NS"):
        z.check_loaded()


def test_named_conf_zone_stanza():
    [z] = parse_zones((SEED / "named.conf").read_text(), "named.conf")
    assert (z.name, z.type, z.file, z.line, z.option_lines["file"]) == ("exampledomain.ca", "master", "exampledomain.ca", 1, 3)
    assert z.text == (SEED / "named.conf").read_text().rstrip("\n")
    zs = parse_zones('// c\noptions { directory "/x"; };\n/* a\n b */ zone "a.b" { type primary; file "f"; }; # x\n')
    assert [(x.name, x.line) for x in zs] == [("a.b", 4)]
    with pytest.raises(NamedConfError):
        parse_zones('zone "a" { type master; file "f" };')


@pytest.mark.skipif(shutil.which("named-checkconf") is None, reason="no BIND")
def test_rendered_named_conf_includes_seed_stanza_and_checks(tmp_path):
    cfg = BindConfig(tmp_path, listen=["any"], port=53)
    cfg.add_named_conf(SEED / "named.conf")
    text = cfg.render().read_text()
    assert (SEED / "named.conf").read_text().strip() in text
    for opt in ("recursion no;", "minimal-responses no-auth;", "minimal-any no;", "answer-cookie no;"):
        assert opt in text
    assert (tmp_path / "exampledomain.ca").read_text() == (SEED / "exampledomain.ca").read_text()
    p = subprocess.run(cfg.check_command(), capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr


def test_secgroup_rules():
    text = render_nft()
    assert "policy drop;" in text and "ct state established,related accept" in text
    for r in ("tcp dport 25 accept", "tcp dport 53 accept", "udp dport 53 accept"):
        assert r in text
    assert "icmp" not in text.split("{", 1)[1]          # the seed's group has no ICMP rule
    assert "tcp dport 80 accept" in render_nft(["25/tcp", "53/tcp", "53/udp", "80/tcp"])
    with pytest.raises(ValueError, match="PORT/tcp"):
        parse_allow(["53"])


@pytest.mark.skipif(shutil.which("nft") is None, reason="no nft")
def test_secgroup_ruleset_parses(tmp_path):
    f = tmp_path / "sg.nft"
    f.write_text(render_nft())
    p = subprocess.run(["nft", "-c", "-f", str(f)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr


def test_server_never_answers_a_response():
    """QR (0x8000) set means the packet is itself an answer: replying to it would let two
    servers answer each other forever, so the server stays silent."""
    from dnslib import DNSRecord

    from labkit import paths
    from labkit.dns.authority import Authority
    from labkit.dns.compare import build_query
    from labkit.dns.zone import load_zone
    auth = Authority([load_zone(paths.topology("ec2", "exampledomain.ca"), "exampledomain.ca")])
    query = bytes(build_query("www.exampledomain.ca", "A", [], 77))
    answer = auth.respond(query)
    r = DNSRecord.parse(answer)
    assert r.header.qr and r.header.aa and [str(x.rdata) for x in r.rr] == ["1.2.3.4"]
    assert auth.respond(answer) is None                       # its own answer fed back
    flipped = bytearray(query)
    flipped[2] |= 0x80                                         # the query with QR set
    assert auth.respond(bytes(flipped)) is None
    # the bit next to QR is the top of the opcode, not QR: opcode 8 is a query that gets NOTIMP
    opcode8 = bytearray(query)
    opcode8[2] |= 0x40
    r = DNSRecord.parse(auth.respond(bytes(opcode8)))
    assert r.header.qr and r.header.opcode == 8 and r.header.rcode == 4 and r.header.id == 77


def test_cname_loop_is_servfail_at_once():
    """loop1 -> loop2 -> loop1: the answer stops where the chain comes back (SERVFAIL, as
    BIND's 'max. restarts reached'). A missing loop check would spin forever; the alarm
    turns that hang into a failure here, before any test starts a server."""
    import signal

    from dnslib import QTYPE, RCODE

    from labkit.dns.authority import Authority
    from labkit.dns.testing import TEST_ZONES
    from labkit.dns.zone import load_zone

    def hung(signum, frame):
        raise AssertionError("the CNAME loop was not detected")

    auth = Authority([load_zone(path, origin) for origin, path in TEST_ZONES.items()])
    old = signal.signal(signal.SIGALRM, hung)
    signal.setitimer(signal.ITIMER_REAL, 10)
    try:
        res = auth.lookup("loop1.difftest.lab.", QTYPE.A)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert res.rcode == RCODE.SERVFAIL and res.ede == (0, "max. restarts reached")
    assert [(r.name, str(r.rdata.label)) for r in res.answer] == [
        ("loop1.difftest.lab.", "loop2.difftest.lab."), ("loop2.difftest.lab.", "loop1.difftest.lab.")]
