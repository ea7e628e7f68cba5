"""Regenerate difftest.corpus (the BIND-vs-embedded differential corpus).

Run: .venv/bin/python data/dns/make_corpus.py > data/dns/difftest.corpus
The corpus is committed; this script only documents how it was made.
"""
import itertools

SEED = ["exampledomain.ca", "ns.exampledomain.ca", "www.exampledomain.ca", "mail.exampledomain.ca",
        "nope.exampledomain.ca", "a.b.www.exampledomain.ca"]
TYPES = ["A", "AAAA", "MX", "NS", "SOA", "TXT", "ANY", "CNAME", "DS", "TYPE65280"]
T = ["difftest.lab", "ns1.difftest.lab", "ns2.difftest.lab", "mail.difftest.lab", "alias.difftest.lab",
     "c1.difftest.lab", "c2.difftest.lab", "dangling.difftest.lab", "leaves.difftest.lab",
     "tochild.difftest.lab", "tonodata.difftest.lab", "loop1.difftest.lab", "c.difftest.lab",
     "b.c.difftest.lab", "a.b.c.difftest.lab", "x.a.b.c.difftest.lab", "child.difftest.lab",
     "ns1.child.difftest.lab", "deep.host.child.difftest.lab", "ext.difftest.lab", "x.ext.difftest.lab",
     "manymx.difftest.lab", "srv.difftest.lab", "txt2.difftest.lab", "mixed.difftest.lab",
     "back.other.lab", "other.lab", "www.other.lab"]

print("# BIND vs embedded differential corpus. Format: see labkit/dns/compare.py")
print("# --- the seed zone, every name x common types")
for n, t in itertools.product(SEED, TYPES):
    print(f"udp {n} {t}")
print("# --- the test zone: CNAME chains, delegation, ENTs, glue")
for n, t in itertools.product(T, ["A", "AAAA", "MX", "NS", "ANY", "CNAME", "DS"]):
    print(f"udp {n} {t}")
print("# --- wildcards")
for n, t in itertools.product(["x.wild.difftest.lab", "a.b.wild.difftest.lab", "*.wild.difftest.lab",
                               "x.sub.wild.difftest.lab", "sub.wild.difftest.lab", "wild.difftest.lab",
                               "y.wc.difftest.lab", "X.WiLd.DiffTest.lab", "tow.difftest.lab"],
                              ["A", "MX", "TXT", "ANY", "CNAME"]):
    print(f"udp {n} {t}")
print("# --- case variations")
for n in ["EXAMPLEDOMAIN.CA", "ExampleDomain.Ca", "wWw.ExampleDomain.ca", "MAIL.exampledomain.CA",
          "MiXeD.difftest.lab", "MIXED.DIFFTEST.LAB", "Alias.DiffTest.Lab", "CHILD.difftest.lab",
          "NoPe.ExampleDomain.CA"]:
    for t in ["A", "MX", "NS"]:
        print(f"udp {n} {t}")
print("# --- EDNS / flags")
for n in ["exampledomain.ca", "www.exampledomain.ca", "nope.exampledomain.ca", "difftest.lab", "child.difftest.lab"]:
    for f in ["edns", "edns=512", "edns=4096", "edns=100", "edns do", "edns=1232 do", "rd", "rd cd", "ad",
              "edns ednsver=1", "edns rd cd ad", "cookie", "nsid", "opt=65001", "edns cookie nsid do"]:
        print(f"udp {n} MX {f}")
print("# --- truncation: big answers over UDP with and without EDNS, then over TCP")
for n, t in [("big.difftest.lab", "A"), ("bigtxt.difftest.lab", "TXT"), ("huge.difftest.lab", "TXT"),
             ("manymx.difftest.lab", "MX"), ("big.difftest.lab", "ANY")]:
    for f in ["", "ad", "rd ad", "edns", "edns=512", "edns=4096", "edns=600 do"]:
        print(f"udp {n} {t} {f}".rstrip())
    for f in ["", "edns"]:
        print(f"tcp {n} {t} {f}".rstrip())
print("# --- TCP versions of ordinary queries")
for n, t in [("exampledomain.ca", "MX"), ("exampledomain.ca", "SOA"), ("nope.exampledomain.ca", "A"),
             ("child.difftest.lab", "A"), ("c1.difftest.lab", "A"), ("www.google.com", "A"),
             ("exampledomain.ca", "AXFR"), ("exampledomain.ca", "IXFR")]:
    print(f"tcp {n} {t}")
print("# --- out of zone: REFUSED")
for n in [".", "ca", "com", "www.google.com", "gmail.com", "xexampledomain.ca", "lab", "outside.example"]:
    for t in ["A", "NS", "SOA"]:
        print(f"udp {n} {t}")
print("# --- odd types and classes")
for t in ["AXFR", "IXFR", "TYPE253", "TYPE254", "OPT", "PTR", "SRV", "NAPTR", "CAA", "HINFO", "RRSIG", "NSEC", "DNSKEY"]:
    print(f"udp exampledomain.ca {t}")
for n in ["version.bind", "hostname.bind", "id.server", "authors.bind", "x.version.bind", "foo"]:
    print(f"udp {n} TXT class=CH")
for c in ["class=255", "class=254", "class=4", "class=1234"]:
    print(f"udp exampledomain.ca A {c}")
print("# --- hand-made packets (hex)")
q = "037777770d657861" "6d706c65646f6d61696e02636100" "00010001"   # www.exampledomain.ca A IN
print("raw 1234 0000 0000 0000 0000 0000")                         # no question
print("raw 1234 0000 0002 0000 0000 0000 " + q + q)                # two questions
print("raw 1234 8000 0001 0000 0000 0000 " + q)                    # QR set: no answer at all
print("raw 1234 0800 0001 0000 0000 0000 " + q)                    # IQUERY
print("raw 1234 1000 0001 0000 0000 0000 " + q)                    # STATUS
print("raw 1234 2000 0001 0000 0000 0000 " + q)                    # NOTIFY
print("raw 1234 2800 0001 0000 0000 0000 " + q)                    # UPDATE
print("raw 1234 3000 0001 0000 0000 0000 " + q)                    # opcode 6
print("raw 1234 0040 0001 0000 0000 0000 " + q)                    # Z bit set
opt = "00 0029 04d0 00000000 0000"
print("raw 1234 0000 0001 0000 0000 0002 " + q + opt + opt)        # two OPT records
print("raw 1234 0000 0001 0001 0000 0000 " + q + opt)              # OPT in the answer section
print("raw 1234 0000 0001 0000 0000 0000 03777777")                # cut inside the question
print("raw 1234 0000 0001 0000 0000 0000 c00c00010001")            # pointer loop in the qname
print("raw 1234 0000 0001 0000 0000 0001 " + q)                    # ARCOUNT says 1, nothing there
print("raw 1234 0000 0001 0000 0000 0000 " + q + "ffff")           # trailing garbage
print("raw 1234 0000")                                             # short header
