"""`IosService.configure` with `ip route` / `no ip route` on a running lab (needs root): the
routing table changes as at bring-up, bad lines change nothing, and the change is kept in the
running config another process continues from. The small campus of tests/test_ios_lab.py, as
a lab of its own."""
from __future__ import annotations

import subprocess
import sys

import pytest

from labkit.ios import IosConfigError
from labkit.lab import Lab
from labkit.procs import wait_until

from labtest import leftovers
from test_ios_lab import ROUTER, SW, TOPO

pytestmark = pytest.mark.lab
NAME = "iosrt"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    d = tmp_path_factory.mktemp("iosrt")
    (d / "sw.ios").write_text(SW)
    (d / "router.ios").write_text(ROUTER)
    (d / "iosrt.yaml").write_text(TOPO.replace("name: iosl", f"name: {NAME}"))
    lab = Lab.up(str(d / "iosrt.yaml"), name=NAME, replace=True)
    try:
        yield lab
    finally:
        lab.down()
        assert leftovers(NAME) == []


def internet(lab) -> bool:
    return lab.node("voice").run(["ping", "-c1", "-W1", "100.64.0.1"]).returncode == 0


def kernel_routes(lab) -> str:
    return lab.node("sw").run(["ip", "route", "show", "table", "main"]).stdout


def test_configure_routes_live_refuses_bad_lines_untouched_and_keeps_the_running_config(lab):
    sw = lab.service("sw", "ios")
    running = sw.run_dir / "running.ios"
    assert internet(lab)
    sw.configure("no ip route 0.0.0.0 0.0.0.0 FastEthernet0/1")        # the file's line, spelt out
    assert "Gateway of last resort is not set" in sw.show("show ip route")
    assert "default" not in kernel_routes(lab) and not internet(lab)
    assert "ip route 0.0.0.0 0.0.0.0 Fast0/1" not in running.read_text()

    before, text = kernel_routes(lab), running.read_text()
    for bad, where in (("ip route 0.0.0.0 0.0.0.0 10.70.0.1\nip route 10.1.0.1 255.255.0.0 10.70.0.1", "configure:2"),
                       ("no ip route 0.0.0.0 0.0.0.0 10.70.0.1", "configure:1"),
                       ("ip route 0.0.0.0 0.0.0.0 10.70.0.1\nip nat inside", None)):
        with pytest.raises((IosConfigError, ValueError)) as err:
            sw.configure(bad)
        assert (where or "line 2 'ip nat inside'") in str(err.value)
        assert kernel_routes(lab) == before and running.read_text() == text and not internet(lab)

    assert sw.configure("ip route 0.0.0.0 0.0.0.0 10.70.0.1") == []
    assert "Gateway of last resort is 10.70.0.1 to network 0.0.0.0" in sw.show("show ip route")
    assert "default via 10.70.0.1 dev fa0-1 proto static metric 1" in kernel_routes(lab)
    assert wait_until(lambda: internet(lab), 10, 0.2, what="voice -> internet after the route")
    notes = sw.configure("ip route 172.16.0.0 255.240.0.0 10.99.0.1")   # not on a connected subnet
    assert len(notes) == 1 and notes[0].startswith("configure:1: warning: next hop 10.99.0.1 is not on a "
                                                   "connected subnet")
    assert "172.16.0.0" not in kernel_routes(lab)

    # another process attached to the lab continues from the running config, not the file
    code = (f"from labkit.lab import Lab\nsw = Lab.attach('{NAME}').service('sw', 'ios')\n"
            "print(sw.configure('no ip route 0.0.0.0 0.0.0.0 10.70.0.1\\nno ip route 172.16.0.0 255.240.0.0'))")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stdout.strip() == "[]", p.stderr
    assert "default" not in kernel_routes(lab) and not internet(lab)
    sw.configure("ip route 0.0.0.0 0.0.0.0 Fast0/1")                     # as the file had it
    assert "default dev fa0-1 proto static scope link metric 1" in kernel_routes(lab)  # IOS: proxy ARP
    assert wait_until(lambda: internet(lab), 10, 0.2, what="voice -> internet again")
    assert running.read_text().count("ip route") == 1
