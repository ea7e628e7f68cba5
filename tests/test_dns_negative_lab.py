"""NODATA next to NXDOMAIN (RFC 2308) from the seed's BIND, asked with dig from a lab node
(needs root): www.exampledomain.ca exists but has no MX record -> NOERROR, empty answer,
the zone's SOA in authority; nope.exampledomain.ca does not exist -> NXDOMAIN, the SOA too.
"""
from __future__ import annotations

import pytest

from labkit.dns.dig import dig, negative_answers, negative_table

from labtest import running_lab

pytestmark = pytest.mark.lab
SOA = ("exampledomain.ca.", 300, "SOA",
       "exampledomain.ca. www.exampledomain.ca. 2012220104 3600 900 604800 86400")


@pytest.fixture(scope="module")
def seed():
    yield from running_lab("seed.yaml", "lkneg")


def test_nodata_and_nxdomain_from_the_seeds_bind(seed):
    nodata, nxdomain = negative_answers(seed.node("pc1"), "1.2.3.4",
                                        [("www.exampledomain.ca", "MX"), ("nope.exampledomain.ca", "A")])
    assert (nodata.rcode, nodata.answer, nodata.authority, nodata.kind) == ("NOERROR", [], [SOA], "NODATA")
    assert "aa" in nodata.flags
    assert (nxdomain.rcode, nxdomain.answer, nxdomain.authority, nxdomain.kind) == ("NXDOMAIN", [], [SOA], "NXDOMAIN")
    assert negative_table([nodata, nxdomain]).splitlines() == [
        "question                 rcode     answers  authority              RFC 2308",
        "www.exampledomain.ca MX  NOERROR   0        SOA exampledomain.ca.  NODATA",
        "nope.exampledomain.ca A  NXDOMAIN  0        SOA exampledomain.ca.  NXDOMAIN",
    ]
    # the same name with a type it has is an answer, not a negative one
    www = dig(seed.node("pc1"), "1.2.3.4", "www.exampledomain.ca", "A")
    assert (www.kind, www.answer) == ("answer", [("www.exampledomain.ca.", 300, "A", "1.2.3.4")])
