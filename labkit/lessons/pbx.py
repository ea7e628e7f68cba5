"""Helpers for notebook 06 (the ACD behind the PBX, labkit.pbx): bring-up with a capture that
sees the first REGISTERs, the PBX's own registrations next to the ACD's agents, the
dialog-info NOTIFYs the PBX sends, and the dial-plan exercise's check.  Text forms leave out
Call-IDs, tags, ports and times, so nbval can compare them."""
from __future__ import annotations

from pathlib import Path

from labkit import Lab, paths, procs
from labkit.acd import events
from labkit.acd.ladder import sip_packets
from labkit.acd.sip.message import SipUri

from . import acd

LAB_FILE = paths.topology("acd", "pbx.yaml")
PBX, ACD, GW = "192.168.2.5", acd.ACD, "192.168.2.2"
PHONES = {"phone1": "192.168.2.101", "phone2": "192.168.2.102"}
NAMES = {PBX: "pbx", ACD: "acd", GW: "gateway", **{ip: name for name, ip in PHONES.items()}}


def up(name: str = "pbxnb") -> tuple[Lab, acd.Capture]:
    """The lab with tcpdump running in the PBX's namespace before any daemon starts. Captures
    here filter on ``udp``, not ``udp port 5060``: a NOTIFY larger than the MTU arrives in IP
    fragments, and only the first of them carries the UDP ports."""
    lab = Lab.up(str(LAB_FILE), name=name, replace=True, services=False)
    try:
        cap = acd.Capture.start(lab.node("pbx"), "bringup", bpf="udp")
        lab.start_services()
    except BaseException:
        lab.down()
        raise
    return lab, cap


def call(lab, target: str, hold: float = 3.0):
    """The gateway calls ``sip:target@PBX`` in the background (the PBX routes it by the dial
    plan); ``.result()`` is labkit.probes.sip.call's answer."""
    return acd._pool.submit(lab.node("gateway").call, "labkit.probes.sip:call", f"{PBX}:5060", target,
                            hold=hold, local=GW, timeout=hold + 60)


def _ruri_user(msg) -> str:
    """The user part of a request's URI (``*44``, ``phone1``), by labkit's SIP URI parser."""
    return SipUri.parse(msg.uri).user


def _who(ep: str) -> str:
    return NAMES.get(ep.rsplit(":", 1)[0], ep)


def register_lines(pcap: Path) -> list[str]:
    """Each AOR's first registration as seen at the PBX: who sent it, and the answers in order
    (``acd      queue1      401 -> 200``). Refreshes are left out."""
    firsts: dict[tuple[str, str], list[str]] = {}
    pending: dict[tuple[str, int], tuple[str, str]] = {}
    for _, src, dst, m in sip_packets(pcap):
        if m.is_request and m.method == "REGISTER":
            key = (_who(src), m.to.uri.user)
            pending[(m.call_id, m.cseq[0])] = key
            firsts.setdefault(key, [])
        elif not m.is_request and m.cseq[1] == "REGISTER" and m.status >= 200:
            key = pending.get((m.call_id, m.cseq[0]))
            answers = firsts.get(key) if key else None
            if answers is not None and (not answers or answers[-1] != "200") and \
                    str(m.status) not in answers[-1:]:
                answers.append(str(m.status))
    return [f"{who:<8} {aor:<10} {' -> '.join(ans) or 'no answer'}" for (who, aor), ans in sorted(firsts.items())]


def registration_lines(lab) -> list[str]:
    """The PBX's location table (``kamcmd ul.dump``): AOR and contact, without ports' noise."""
    regs = lab.service("pbx", "pbx").registrations()
    return [f"{aor:<10} {', '.join(c.split(';')[0] for c in contacts)}" for aor, contacts in regs.items()]


def dialog_states(pcap: Path, ext: str) -> list[str]:
    """The dialog states in the PBX's NOTIFYs about ``ext`` to the ACD, in order, repeats of
    the same state dropped, in RFC 4235's words (section 3.7.1: trying, proceeding, early,
    confirmed, terminated): e.g. ``early``, ``confirmed``, ``terminated``. A NOTIFY that lists
    no dialog reads as "no dialog". RFC 4235 has no idle state; "idle" is the ACD's word for
    an agent whose dialogs have all ended."""
    out: list[str] = []
    for _, src, dst, m in sip_packets(pcap):
        if not (m.is_request and m.method == "NOTIFY" and _who(src) == "pbx" and _who(dst) == "acd"):
            continue
        if m.from_.uri.user != ext:            # a NOTIFY's From is the watched entity
            continue
        try:
            states = [st for _, st in events.dialog_states(m.body)]
        except events.BodyError:                 # no body (a first NOTIFY may have none)
            states = []
        live = [st for st in states if st != "terminated"]
        state = live[-1] if live else states[-1] if states else "no dialog"
        if not out or out[-1] != state:
            out.append(state)
    return out


def subscribe_lines(pcap: Path, ext: str) -> list[str]:
    """The ACD's SUBSCRIBE for ``ext`` at the PBX and who answered what, in order."""
    lines, calls = [], set()
    for _, src, dst, m in sip_packets(pcap):
        if m.is_request and m.method == "SUBSCRIBE" and _ruri_user(m) == ext:
            calls.add(m.call_id)
            lines.append(f"{_who(src)} -> {_who(dst)}: SUBSCRIBE sip:{ext}@pbx  Event: {m.get('Event')}  "
                         f"Expires: {m.get('Expires')}")
        elif m.call_id in calls and not m.is_request and m.cseq[1] == "SUBSCRIBE" and m.status >= 200:
            lines.append(f"{_who(src)} -> {_who(dst)}: {m.status} {m.reason}")
        elif m.call_id in calls and m.is_request and m.method == "NOTIFY":
            lines.append(f"{_who(src)} -> {_who(dst)}: NOTIFY  Subscription-State: "
                         f"{m.get('Subscription-State').split(';')[0]}  ({m.content_type or 'no body'})")
    seen: list[str] = []
    for ln in lines:                                # the first exchanges, not every refresh
        if ln not in seen:
            seen.append(ln)
    return seen[:6]


def call_ids(pcap: Path, gateway_call_id: str) -> list[str]:
    """The gateway's call and the ACD's calls to agents while it lasted: one queued call's legs."""
    legs, start, end = [gateway_call_id], None, None
    packets = list(sip_packets(pcap))
    for t, _, _, m in packets:
        if m.call_id == gateway_call_id:
            start = t if start is None else start
            end = t
    for t, src, dst, m in packets:
        if m.is_request and m.method == "INVITE" and _who(src) == "acd" and _who(dst) == "pbx" \
                and start is not None and start <= t <= end and m.call_id not in legs \
                and _ruri_user(m) in PHONES:
            legs.append(m.call_id)
    return legs


def ladder_text(pcap: Path, legs: list[str]) -> str:
    """The SIP ladder of those legs as text (labkit.lessons.acd.dialog_text)."""
    msgs = [m for m in acd.sip_messages(pcap) if m.row.call_id in legs]
    return acd.dialog_text(msgs, NAMES)


def request_paths(pcap: Path, legs: list[str]) -> list[str]:
    """Each leg's requests with the hops they took: a header line per leg (in the order of
    `legs`), then ``INVITE  gateway -> pbx -> acd`` lines in the order that leg sent them.
    Legs are printed one after the other because on the wire they overlap, in an order that
    changes from run to run; within a leg the order is the call's own. Retransmissions are
    left out; responses follow the same hops back (the ladder below shows them)."""
    per_leg: dict[str, dict[tuple[str, int, str], list[str]]] = {leg: {} for leg in legs}
    for _, src, dst, m in sip_packets(pcap):
        if not m.is_request or m.call_id not in per_leg:
            continue
        hops = per_leg[m.call_id].setdefault((m.from_.tag, m.cseq[0], m.method), [])
        a, b = _who(src), _who(dst)
        if not hops:
            hops += [a, b]
        elif hops[-1] == a and b not in hops:
            hops.append(b)
    out = []
    for n, leg in enumerate(legs, 1):
        reqs = per_leg[leg]
        invites = [h for (_, _, method), h in reqs.items() if method == "INVITE"] or [["?", "?"]]
        path = max(invites, key=len)                  # the INVITE that got through
        out.append(f"leg {n}: {path[0]} calls {path[-1]}")
        out += [f"  {method:<8} {' -> '.join(hops)}" for (_, _, method), hops in reqs.items()]
    return out


def ladder_rows(pcap: Path, legs: list[str]):
    from labkit.acd.ladder import sip_rows

    return [r for r in sip_rows(pcap) if r.call_id in legs and not r.label.startswith("100 ")]


def call_lines(pcap: Path, user: str) -> list[str]:
    """The calls to ``user`` (e.g. ``*44``) in the capture, as the PBX saw them: each INVITE
    with its request-URI user and hop, and each final answer, in order, repeats dropped."""
    calls = {m.call_id for _, _, _, m in sip_packets(pcap)
             if m.is_request and m.method == "INVITE" and _ruri_user(m) == user}
    lines: list[str] = []
    for _, src, dst, m in sip_packets(pcap):
        if m.call_id not in calls:
            continue
        if m.is_request and m.method == "INVITE":
            line = f"INVITE sip:{_ruri_user(m)}@{_who(dst)}".ljust(36) + f"{_who(src)} -> {_who(dst)}"
        elif not m.is_request and m.cseq[1] == "INVITE" and m.status >= 200:
            line = f"{m.status} {m.reason}".ljust(36) + f"{_who(src)} -> {_who(dst)}"
        else:
            continue
        if line not in lines:
            lines.append(line)
    return lines


# ---- the exercise ---------------------------------------------------------------------------------
def extensions_text() -> str:
    return paths.topology("acd", "extensions.conf").read_text()


def use_dialplan(lab, text: str) -> list[str]:
    """Give the PBX this extensions.conf (written into its run directory) and restart it.
    Returns the dial plan's diagnostics; on an error the PBX keeps the plan it had."""
    from labkit.pbx import dialplan

    svc = lab.service("pbx", "pbx")
    path = svc.run_dir / "extensions.conf"
    path.write_text(text)
    found = [str(d).replace(str(path), path.name) for d in dialplan.lint(svc.config_path("sip_conf"), path)]
    if any(": warning: " not in d for d in found):
        return found
    svc.params["extensions"] = path
    lab.restart("pbx", "pbx")
    return found


def agent_logs_in(lab, node: str = "phone2", agent: str = "2772", timeout: float = 15.0) -> bool:
    """The exercise's check: restart the phone on ``node`` (it logs out, then dials *44 and keys
    ``agent``); True if the ACD shows the agent idle within ``timeout`` seconds."""
    lab.restart(node, "sipphone")
    try:
        procs.wait_until(lambda: acd.agent_states(lab).get(agent) == "idle", timeout, 0.3,
                         what=f"agent {agent} logged in")
        return True
    except procs.WaitTimeout:
        return False


def check_dialplan(lab, text: str, node: str = "phone2", agent: str = "2772") -> None:
    """The exercise's check: the PBX takes ``text`` as its extensions.conf (no dial-plan
    error), and the phone on ``node``, restarted, logs in as ``agent`` by dialling *44 through
    it. AssertionError saying what was seen and what was wanted."""
    errors = [d for d in use_dialplan(lab, text) if ": warning: " not in d]
    assert not errors, f"the PBX refused the dial plan and kept the one it had: {errors}"
    star44 = [ln.split(";")[0].strip() for ln in text.splitlines() if ln.strip().startswith("exten => *44")]
    assert agent_logs_in(lab, node, agent), (
        f"{node} dialled *44 and keyed {agent}, but GET /agents does not show {agent} idle; "
        f"the plan's *44 line: {star44 or 'none'} (want *44 routed to the ACD's login AOR, acdlogin)")


def check_whole_plan(lab, node: str = "phone1", agent: str = "2771", queue: str = "queue1") -> None:
    """The exercise's hidden test, from other angles: another phone logs in with *44, and the
    rest of the plan still routes: the gateway's call into ``queue`` reaches an agent through
    the PBX ([fxo] to the ACD, [acdserver] from the ACD to the phone)."""
    assert agent_logs_in(lab, node, agent), \
        f"{node} dialled *44 and keyed {agent}, but GET /agents does not show {agent} idle"
    result = call(lab, queue, hold=2).result()
    assert result["connected"], (
        f"the gateway's call to {queue} through the PBX: {result['status']}, no agent connected "
        f"(want it routed to the ACD's {queue} and on to agent {agent}: keep the plan's other contexts)")
