"""BIND in a lab reloads an edited zone (BindService.zone_file/reload; needs root): the new
records are served, a broken zone file is refused with BIND's file:line and named keeps
serving the old one, restore_zone serves the topology's file again, and the SIGHUP goes to
the recorded named only (Service.signal)."""
from __future__ import annotations

import signal

import pytest

from labkit.lab import Lab
from labkit.lab.errors import ServiceError

from labtest import ROOT, leftovers

pytestmark = pytest.mark.lab
NAME = "dnsrl"


@pytest.fixture(scope="module")
def lab():
    lab = Lab.up(ROOT / "topologies" / "internet" / "dns.yaml", name=NAME, replace=True)
    try:
        yield lab
    finally:
        lab.down()
        assert leftovers(NAME) == []


def ns_answer(lab) -> list[str]:
    r = lab.node("client").call("labkit.dns.probes:query", "1.2.3.4", "exampledomain.ca", "NS")
    return [a["data"] for a in r["answer"]]


def test_an_edited_zone_is_served_after_reload_and_a_broken_one_is_refused(lab):
    bind = lab.service("ec2", "bind")
    zone = bind.zone_file("exampledomain.ca.")
    assert zone.parent == bind.run_dir and zone.read_text() == (ROOT / "topologies/ec2/exampledomain.ca").read_text()
    assert ns_answer(lab) == ["ns."] and bind.serials(["exampledomain.ca"]) == {"exampledomain.ca": 2012220104}
    seed = zone.read_text()
    lines = seed.splitlines()
    ns = next(i for i, l in enumerate(lines) if l.split()[-2:] == ["NS", "ns."])
    lines[ns] = "            IN NS   ns"
    fixed = "\n".join(lines).replace("2012220104", "2012220105") + "\n"
    zone.write_text(fixed)
    assert bind.reload() == {"exampledomain.ca": 2012220105}
    assert ns_answer(lab) == ["ns.exampledomain.ca."]
    # a primary loads an edited file whose serial did not grow, and served it once reload() returns
    zone.write_text(fixed.replace("www             IN A 1.2.3.4", "www             IN A 1.2.3.5"))
    assert bind.reload() == {"exampledomain.ca": 2012220105}
    www = lab.node("client").call("labkit.dns.probes:query", "1.2.3.4", "www.exampledomain.ca", "A")
    assert [a["data"] for a in www["answer"]] == ["1.2.3.5"]
    assert "zone exampledomain.ca/IN: zone serial (2012220105) unchanged" in (bind.run_dir / "named.log").read_text()

    zone.write_text(fixed.replace("2012220105", "2012220106").replace("mail            IN A 1.2.3.4",
                                                                      "mail            IN A 1.2.3.4.5"))
    with pytest.raises(ServiceError) as err:
        bind.reload()
    assert f"{zone}:15: near '1.2.3.4.5': bad dotted quad" in str(err.value)
    assert bind.serials(["exampledomain.ca"]) == {"exampledomain.ca": 2012220105}   # still the last good one
    assert ns_answer(lab) == ["ns.exampledomain.ca."]
    with pytest.raises(ServiceError, match="serves no zone 'example.com'"):
        bind.zone_file("example.com")
    # restore_zone: the topology's file served again, its lower serial too (a primary loads it)
    zone.write_text(fixed.replace("2012220105", "2012220107"))
    assert bind.reload() == {"exampledomain.ca": 2012220107}
    assert bind.restore_zone("exampledomain.ca") == 2012220104
    assert zone.read_text() == seed and ns_answer(lab) == ["ns."]
    reloads = (bind.run_dir / "named.log").read_text().count("reloading zones succeeded")
    assert bind.restore_zone("exampledomain.ca.") == 2012220104          # nothing to undo: no reload
    assert (bind.run_dir / "named.log").read_text().count("reloading zones succeeded") == reloads


def test_signal_reaches_only_a_recorded_live_daemon(lab):
    bind = lab.service("ec2", "bind")
    named = [p for p in lab.state.procs if p.what == "ec2/bind"]
    assert len(named) == 1 and bind.signal(signal.SIGHUP) == [named[0].pid]
    with pytest.raises(ServiceError, match="is not running"):      # nftables rules, no daemon
        lab.service("ec2", "secgroup").signal(signal.SIGHUP)
