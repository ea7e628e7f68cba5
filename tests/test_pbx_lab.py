"""The seed's call path through a real PBX (Kamailio, configured from the seed's Asterisk files),
in network namespaces, asserted on the wire.  Needs root, Kamailio and tcpdump.

tests/topologies/acd-pbx.yaml: the PBX at .5, the ACD at .10 (registering its AORs, SIP timers
10 times faster), phone1 (agent 2771) answers, phone2 (agent 2772) lets calls ring.  tcpdump
runs inside the PBX's namespace, so every SIP message to or from the PBX is in its capture."""
from __future__ import annotations

import json
import os
import shutil
import signal
import time
from pathlib import Path

import pytest

from labkit import Lab, procs
from labkit.acd.ladder import sip_packets
from labkit.acd.sip.message import SipUri
from labkit.lessons import pbx as pbx_lesson
from labkit.lessons.acd import Capture

pytestmark = [pytest.mark.lab,
              pytest.mark.skipif(shutil.which("kamailio") is None, reason="kamailio not installed")]

TOPO = str(Path(__file__).parent / "topologies" / "acd-pbx.yaml")
PBX, ACD, GW, PHONE1, PHONE2 = "192.168.2.5", "192.168.2.10", "192.168.2.2", "192.168.2.101", "192.168.2.102"
ACD_AORS = {"acdserver", "queue1", "queue2", "queue3", "acdlogin", "acdlogout"}


def rest(lab, path: str) -> dict:
    out = lab.node("gateway").run(["curl", "-s", "-m", "5", f"http://{ACD}:242{path}"]).stdout
    return json.loads(out)


def agents(lab) -> dict:
    return {a["id"]: a for a in rest(lab, "/agents")["agents"]}


def queues(lab) -> dict:
    return {q["name"]: q for q in rest(lab, "/queues")["queues"]}


def wire(pcap) -> list[tuple[str, str, object]]:
    """(source IP, destination IP, SipMessage) of every SIP message in the capture."""
    return [(src.rsplit(":", 1)[0], dst.rsplit(":", 1)[0], m) for _, src, dst, m in sip_packets(pcap)]


def requests(msgs, method: str, src: str | None = None, dst: str | None = None) -> list:
    return [m for s, d, m in msgs if m.is_request and m.method == method
            and (src is None or s == src) and (dst is None or d == dst)]


def answers(msgs, req, status: int) -> list:
    """Responses with `status` in the transaction of `req` (same Call-ID and CSeq)."""
    return [m for _, _, m in msgs if not m.is_request and m.status == status
            and m.call_id == req.call_id and m.cseq == req.cseq]


def user(uri) -> str:
    """The user part of a URI (a SipUri, or its text), by labkit's SIP URI parser."""
    return (uri if isinstance(uri, SipUri) else SipUri.parse(uri)).user


def both_idle(lab):
    a = agents(lab)
    return a if a["2771"]["state"] == a["2772"]["state"] == "idle" else None


def test_login_queued_call_redirect_and_logout_through_the_pbx():
    with Lab.up(TOPO, name="pbxtest", replace=True, services=False) as lab:
        cap = Capture.start(lab.node("pbx"), "pbx", bpf="udp")   # before the first REGISTER
        try:
            lab.start_services()
            procs.wait_until(lambda: both_idle(lab), 30, 0.3, what="agents 2771 and 2772 idle")
            pbx = lab.service("pbx", "pbx")
            def all_registered():
                regs = pbx.registrations()
                return regs if ACD_AORS | {"phone1", "phone2"} <= set(regs) else None
            regs = procs.wait_until(all_registered, 10, 0.3, what="every AOR in Kamailio's location table")
            assert regs["queue1"] == [f"sip:queue1@{ACD}:5060"] and regs["phone1"][0].startswith(f"sip:phone1@{PHONE1}")
            assert all(q["registered"] for q in queues(lab).values())

            # a queued call from the gateway, routed by the PBX to the ACD, offered to 2771 through
            # the PBX: the agent's state changes because of a call the PBX saw
            r = lab.node("gateway").call("labkit.probes.sip:call", f"{PBX}:5060", "queue1", hold=4.0,
                                         local=GW, timeout=60)
            assert r["status"] == 200 and r["connected"], r
            procs.wait_until(lambda: rest(lab, "/queues/queue1")["stats"]["answered"] == 1, 10, 0.3,
                             what="queue1 answered 1")

            # redirect on no answer: phone2 (2772) is now the most idle agent of queue2 and lets it
            # ring; after the 3 s ring timeout the ACD offers the call to 2771, who answers
            procs.wait_until(lambda: both_idle(lab), 20, 0.3, what="2771 idle again after wrap-up")
            r2 = lab.node("gateway").call("labkit.probes.sip:call", f"{PBX}:5060", "queue2", hold=8.0,
                                          local=GW, timeout=60)
            assert r2["status"] == 200 and r2["connected"], r2
            assert rest(lab, "/queues/queue2")["stats"]["answered"] == 1

            # logout: phone2's daemon dials *45 when it stops (SIGTERM to its recorded PID)
            [rec] = [p for p in lab.state.procs if p.what == "phone2/sipphone" and p.alive()]
            procs.stop([rec], grace=5.0)
            procs.wait_until(lambda: agents(lab)["2772"]["state"] == "loggedout", 15, 0.3,
                             what="2772 logged out")
        finally:
            pcap = cap.stop()
        msgs = wire(pcap)
        phone1_states = pbx_lesson.dialog_states(pcap, "phone1")

    # REGISTERs: the ACD's AORs and the phones', each challenged (401) then accepted (200)
    for src, aors in ((ACD, ACD_AORS), (PHONE1, {"phone1"}), (PHONE2, {"phone2"})):
        sent = requests(msgs, "REGISTER", src=src, dst=PBX)
        assert {user(m.to.uri) for m in sent} >= aors, src
        assert any(answers(msgs, m, 401) for m in sent) and any(answers(msgs, m, 200) for m in sent)
        assert all("Authorization" in dict(m.headers) for m in sent if answers(msgs, m, 200))

    # *44: the phone's INVITE (407, then with credentials) and the PBX's INVITE to acdlogin
    star44 = [m for m in requests(msgs, "INVITE", src=PHONE1, dst=PBX) if user(m.uri) == "*44"]
    assert any(answers(msgs, m, 407) for m in star44) and any(answers(msgs, m, 200) for m in star44)
    assert any(user(m.uri) == "acdlogin" for m in requests(msgs, "INVITE", src=PBX, dst=ACD))
    # *45 from phone2 reached the ACD as acdlogout
    assert any(user(m.uri) == "*45" for m in requests(msgs, "INVITE", src=PHONE2, dst=PBX))
    assert any(user(m.uri) == "acdlogout" for m in requests(msgs, "INVITE", src=PBX, dst=ACD))

    # the ACD's SUBSCRIBE (Event: dialog) to each agent's extension, answered by the PBX itself
    subs = requests(msgs, "SUBSCRIBE", src=ACD, dst=PBX)
    dialogs = {}
    for ext in ("phone1", "phone2"):
        mine = [m for m in subs if user(m.uri) == ext and m.get("Event").startswith("dialog")]
        assert mine and any(answers(msgs, m, 200) for m in mine), ext
        dialogs[ext] = {m.call_id for m in mine}
    # ... and after the logout, phone2's subscription ended (Expires: 0, within its dialog)
    assert any(m.call_id in dialogs["phone2"] and m.get("Expires") == "0" for m in subs)

    # NOTIFYs from the PBX's presence server follow phone1's real calls: the queued call
    # made phone1 busy (early/confirmed), and its end was published as terminated (RFC 4235)
    states = phone1_states
    busy = [i for i, s in enumerate(states) if s == "confirmed"]
    assert busy and "terminated" in states[busy[0]:], states
    assert "idle" not in states     # the ACD's word for an agent, not a dialog state

    # the calls: gateway -> PBX -> ACD, ACD -> PBX -> agent phone
    invites = requests(msgs, "INVITE")
    assert any(m for m in invites if user(m.uri) == "queue1") and \
        any(user(m.uri) == "phone1" for m in requests(msgs, "INVITE", src=ACD, dst=PBX)) and \
        any(m for m in requests(msgs, "INVITE", src=PBX, dst=PHONE1))
    # phone2 rang and was CANCELled by the redirect (the CANCEL goes through the PBX)
    assert any(user(m.uri) == "phone2" for m in requests(msgs, "CANCEL", src=PBX, dst=PHONE2))


def stored_aors(lab) -> set[str]:
    """The users in the PBX's location table on disk (read-only; WAL lets Kamailio write on)."""
    import sqlite3

    path = lab.service("pbx", "pbx").run_dir / "location.sqlite"
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2) as db:
            return {row[0] for row in db.execute("SELECT username FROM location")}
    except sqlite3.Error:
        return set()


def test_kill_9_of_the_pbx_then_it_comes_back_and_calls_flow_again():
    with Lab.up(TOPO, name="pbxkill", replace=True) as lab:
        procs.wait_until(lambda: both_idle(lab), 30, 0.3, what="agents idle")
        # Kamailio writes registrations back to SQLite once a second (db_mode 2), so a kill -9
        # loses the last second's: the test is about what it kept, so wait until the phones'
        # are on disk (under load the write-back can trail the phones' logins by seconds)
        procs.wait_until(lambda: {"phone1", "phone2"} <= stored_aors(lab), 30, 0.3,
                         what="the phones' registrations written to location.sqlite")
        # the whole PBX dies at once: its main process and the workers it forked
        [main] = [p for p in lab.state.procs if p.what == "pbx/pbx" and p.alive()]
        os.killpg(main.pid, signal.SIGKILL)
        for child in lab.service("pbx", "pbx").procs:   # reap the main process (our child)
            child.wait(5)
        procs.wait_until(lambda: not main.alive() and not main.orphans(), 5, what="Kamailio gone")

        # the ACD notices: its REGISTER refresh (due within 5 s) fails, /queues says so
        procs.wait_until(lambda: not any(q["registered"] for q in queues(lab).values()), 30, 0.5,
                         what="the ACD reports its AORs unregistered")
        reasons = {q["registration"] for q in queues(lab).values()}
        assert reasons and "ok" not in reasons, reasons
        # a call fails cleanly (nobody answers at the PBX's address) and leaves nothing behind
        r = lab.node("gateway").call("labkit.probes.sip:call", f"{PBX}:5060", "queue1", hold=1.0,
                                     local=GW, timeout=60)
        assert r["status"] != 200
        stats = rest(lab, "/stats")
        assert stats["leaks"]["calls"] == 0 and stats["leaks"]["overdue_txns"] == 0

        # the PBX comes back: the ACD and the phones register again, without a restart of either
        lab.restart("pbx", "pbx")
        pbx = lab.service("pbx", "pbx")
        def missing() -> set:
            return (ACD_AORS | {"phone1", "phone2"}) - set(pbx.registrations())
        try:
            procs.wait_until(lambda: not missing(), 45, 0.5, what="the ACD and the phones registered again")
        except procs.WaitTimeout:
            raise AssertionError(f"not registered after the restart: {sorted(missing())}; "
                                 f"the ACD says {rest(lab, '/stats').get('pbx')}; its log:\n"
                                 f"{lab.service('acd', 'acd').log_tail(30)}") from None
        procs.wait_until(lambda: all(q["registered"] for q in queues(lab).values()), 30, 0.5,
                         what="the ACD reports its AORs registered")
        procs.wait_until(lambda: agents(lab)["2771"]["state"] == "idle", 60, 0.5, what="2771 idle")
        r = lab.node("gateway").call("labkit.probes.sip:call", f"{PBX}:5060", "queue1", hold=2.0,
                                     local=GW, timeout=60)
        assert r["status"] == 200 and r["connected"], r
        procs.wait_until(lambda: rest(lab, "/stats")["leaks"]["calls"] == 0, 15, 0.3, what="calls gone")


def test_wrong_credentials_are_one_clear_error_and_no_retry_storm(tmp_path):
    """The ACD restarted with a secret the PBX does not know: every AOR says the PBX refused
    the credentials, the log says it once per AOR, and the REGISTERs slow down (backoff to
    60 s, times the lab's timer scale of 0.1) instead of storming the PBX."""
    bad = tmp_path / "acd-badsecret.yaml"
    bad.write_text((Path(TOPO).parent / "acd-pbx-acd.yaml").read_text()
                   .replace("pbx_secret: acdsecret", "pbx_secret: not-the-secret"))
    with Lab.up(TOPO, name="pbxauth", replace=True) as lab:
        procs.wait_until(lambda: all(q["registered"] for q in queues(lab).values()), 30, 0.3,
                         what="the ACD registered with its right secret")
        acd = lab.service("acd", "acd")
        acd.params["config"] = bad
        lab.restart("acd", "acd")
        procs.wait_until(lambda: all("refused the credentials" in q["registration"]
                                     for q in queues(lab).values()), 20, 0.3,
                         what="every queue AOR reported as refused")
        def sent() -> int:
            return rest(lab, "/stats")["pbx"]["registers_sent"]

        # the backoff doubles from 0.1 s to its cap of 6 s (1 s .. 60 s, times the timer scale):
        # after seven attempts per AOR (each a REGISTER and its retry with credentials) it is capped
        base = sent()
        procs.wait_until(lambda: sent() - base >= 6 * 2 * 7, 40, 0.2, what="the backoff reaching its cap")
        cap = Capture.start(lab.node("pbx"), "auth", bpf="udp")
        mark, t0 = sent(), time.monotonic()
        procs.wait_until(lambda: sent() - mark >= 6 * 2, 30, 0.1, what="one more attempt for every AOR")
        elapsed = time.monotonic() - t0
        on_wire = [m for s, d, m in wire(cap.stop()) if m.is_request and m.method == "REGISTER"]
        log = acd.log_tail(200)
        assert queues(lab)["queue1"]["registered"] is False
    # one more attempt for each of the 6 AORs took the capped backoff (about 6 s), not milliseconds
    assert elapsed >= 4.0, elapsed
    assert 0 < len(on_wire) <= 6 * 2 * 2, len(on_wire)
    refused = [ln for ln in log.splitlines() if "refused the credentials" in ln]
    assert 6 <= len(refused) <= 12, refused       # once per AOR, not once per attempt


def copy_pbx_lab(to: Path) -> Path:
    """topologies/acd/pbx.yaml and the files it names, copied to `to` for a test to break."""
    acd_dir = Path(TOPO).parents[2] / "topologies" / "acd"
    for name in ("sip.conf", "extensions.conf", "acd.yaml", "pbx.yaml"):
        (to / name).write_text((acd_dir / name).read_text())
    return to / "pbx.yaml"


def test_a_phone_with_a_wrong_secret_fails_labkit_check_by_name(tmp_path):
    """A student's typo in phone1's secret: bring-up works (phones retry), and `labkit check`
    names the phone that is not registered at the PBX."""
    from labtest import labkit_cli

    topo = copy_pbx_lab(tmp_path)
    topo.write_text(topo.read_text().replace("secret: phone1secret", "secret: phone1secrt"))
    import re

    def results() -> dict[str, str]:
        out = labkit_cli("check", "--lab", "pbxcheck", check=False).stdout
        return dict(re.findall(r"sip_registered (\w+) at pbx\s+(PASS|FAIL)", out))

    def others_registered() -> dict[str, str] | None:
        got = results()
        return got if got.get("phone2") == got.get("queue1") == "PASS" else None

    labkit_cli("up", str(topo), "--lab", "pbxcheck")
    try:                                    # the others register within moments; phone1 never
        got = procs.wait_until(others_registered, 20, 0.5, what="phone2 and the ACD registered")
        assert got["phone1"] == "FAIL" and got["acdlogin"] == "PASS"
        assert labkit_cli("check", "--lab", "pbxcheck", check=False).returncode == 1
    finally:
        labkit_cli("down", "--lab", "pbxcheck")


@pytest.mark.parametrize("line, expect", [
    ("exten => *44,1,Queue(sales)", "Queue"),                       # an application labkit does not translate
    ("exten => *44,2,Dial(SIP/acdserver/acdlogin)", "priority"),    # only priority 1 (and hint)
    ("exten => _pho[ne.,1,Dial(SIP/${EXTEN})", "["),                 # an unclosed set
])
def test_a_bad_dial_plan_line_stops_bring_up_with_its_file_and_line(tmp_path, line, expect):
    """Through `labkit up`: the PBX's dial plan is read before anything starts; a bad line is
    one error naming extensions.conf and its line, and no namespace or process is left."""
    from labtest import labkit_cli, leftovers

    copy_pbx_lab(tmp_path)
    text = (tmp_path / "extensions.conf").read_text().splitlines()
    at = next(i for i, ln in enumerate(text) if ln.startswith("exten => *44"))
    text[at] = line
    (tmp_path / "extensions.conf").write_text("\n".join(text) + "\n")
    r = labkit_cli("up", str(tmp_path / "pbx.yaml"), "--lab", "pbxbad", check=False)
    assert r.returncode != 0
    first = [ln for ln in (r.stdout + r.stderr).splitlines() if "extensions.conf:" in ln]
    assert first and f"extensions.conf:{at + 1}:" in first[0] and expect in first[0], r.stdout + r.stderr
    assert leftovers("pbxbad") == []
