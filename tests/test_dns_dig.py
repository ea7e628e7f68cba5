"""labkit.dns.dig's parser and RFC 2308 classification, on dig 9.18's real output (taken
from the seed lab: pc1 asking the EC2 host's BIND), plus seeded mutations of it."""
from __future__ import annotations

import random

import pytest

from labkit.dns.dig import DigAnswer, DigError, negative_table, parse_dig

SOA = ("exampledomain.ca.", 300, "SOA",
       "exampledomain.ca. www.exampledomain.ca. 2012220104 3600 900 604800 86400")


def dig_text(status: str, qname: str, qtype: str, counts: tuple[int, int], sections: str) -> str:
    return f"""
; <<>> DiG 9.18.49-1~deb12u3-Debian <<>> @1.2.3.4 {qname} {qtype} +norecurse
; (1 server found)
;; global options: +cmd
;; Got answer:
;; ->>HEADER<<- opcode: QUERY, status: {status}, id: 14108
;; flags: qr aa; QUERY: 1, ANSWER: {counts[0]}, AUTHORITY: {counts[1]}, ADDITIONAL: 1

;; OPT PSEUDOSECTION:
; EDNS: version: 0, flags:; udp: 1232
;; QUESTION SECTION:
;{qname}.\t\tIN\t{qtype}

{sections}
;; Query time: 0 msec
;; SERVER: 1.2.3.4#53(1.2.3.4) (UDP)
;; WHEN: Sun Dec 06 15:50:08 UTC 2026
;; MSG SIZE  rcvd: 85

"""


AUTH = (";; AUTHORITY SECTION:\nexampledomain.ca.\t300\tIN\tSOA\texampledomain.ca. www.exampledomain.ca. "
        "2012220104 3600 900 604800 86400\n")
NODATA = dig_text("NOERROR", "www.exampledomain.ca", "MX", (0, 1), AUTH)
NXDOMAIN = dig_text("NXDOMAIN", "nope.exampledomain.ca", "A", (0, 1), AUTH)
ANSWER = dig_text("NOERROR", "www.exampledomain.ca", "A", (1, 0),
                  ";; ANSWER SECTION:\nwww.exampledomain.ca.\t300\tIN\tA\t1.2.3.4\n")
REFUSED = dig_text("REFUSED", "gmail.com", "A", (0, 0), "")


def test_nodata_is_noerror_with_no_answer_and_the_soa():
    a = parse_dig(NODATA, "www.exampledomain.ca", "MX")
    assert (a.rcode, a.flags, a.answer, a.authority, a.kind) == ("NOERROR", ("qr", "aa"), [], [SOA], "NODATA")


def test_nxdomain_carries_the_soa_too_and_only_the_rcode_differs():
    a = parse_dig(NXDOMAIN, "nope.exampledomain.ca", "A")
    assert (a.rcode, a.answer, a.authority, a.kind) == ("NXDOMAIN", [], [SOA], "NXDOMAIN")


def test_answers_and_other_rcodes():
    assert parse_dig(ANSWER).kind == "answer"
    assert parse_dig(ANSWER).answer == [("www.exampledomain.ca.", 300, "A", "1.2.3.4")]
    assert parse_dig(REFUSED).kind == "REFUSED"
    # NOERROR, no answer and no SOA (a referral, say) is not NODATA
    assert DigAnswer("x.", "A", "NOERROR", ()).kind == "NOERROR"


def test_table():
    rows = [parse_dig(NODATA, "www.exampledomain.ca", "MX"), parse_dig(NXDOMAIN, "nope.exampledomain.ca", "A")]
    assert negative_table(rows).splitlines() == [
        "question                 rcode     answers  authority              RFC 2308",
        "www.exampledomain.ca MX  NOERROR   0        SOA exampledomain.ca.  NODATA",
        "nope.exampledomain.ca A  NXDOMAIN  0        SOA exampledomain.ca.  NXDOMAIN",
    ]


def test_no_header_is_a_clear_error():
    with pytest.raises(DigError, match="no answer header: ;; communications error"):
        parse_dig(";; communications error to 1.2.3.4#53: timed out\n")
    with pytest.raises(DigError, match=r"\(nothing\)"):
        parse_dig("")


def test_mutated_output_parses_or_fails_clearly():
    rng = random.Random(2308)
    for _ in range(3000):
        chars = list(rng.choice([NODATA, NXDOMAIN, ANSWER, REFUSED]))
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(len(chars))
            op = rng.random()
            if op < 0.4:
                del chars[i]
            elif op < 0.8:
                chars[i] = rng.choice("\t\n ;:.,0123456789aAzZ-<>")
            else:
                chars.insert(i, chr(rng.randrange(32, 0x250)))
        try:
            a = parse_dig("".join(chars))
        except DigError:
            continue
        assert a.kind in ("answer", "NODATA", "NXDOMAIN") or a.kind == a.rcode
