"""Helpers for notebook 04 (the ACD lab, labkit.acd): REST through the gateway node, captures with tcpdump
inside a node (started and stopped by PID), background calls, an extra agent phone, and the
deterministic text forms (no idle times, Call-IDs, ports or PIDs) that nbval compares."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labkit import paths, procs
from labkit.acd.ladder import LadderRow

LAB_FILE = paths.topology("acd", "lab.yaml")
ACD = "192.168.2.10"
SIP = f"{ACD}:5060"
REST = f"http://{ACD}:242"
NAMES = {ACD: "acd", "192.168.2.2": "gateway", "192.168.2.2:5070": "phone3",
         "192.168.2.101": "phone1", "192.168.2.102": "phone2"}
_pool = ThreadPoolExecutor(max_workers=4)


# ---- REST ----------------------------------------------------------------------------------
def rest(lab, path: str, method: str = "GET", body: Any = None, node: str = "gateway") -> Any:
    """One REST request to the ACD (port 242) with curl from inside a lab node; JSON back."""
    argv = ["curl", "-s", "-X", method, f"{REST}{path}"]
    if body is not None:
        argv += ["-H", "Content-Type: application/json", "-d", json.dumps(body)]
    out = lab.node(node).run(argv, timeout=10).stdout
    try:
        return json.loads(out)
    except json.JSONDecodeError:
        raise RuntimeError(f"{method} {path}: not JSON from the ACD: {out[:200]!r} "
                           "(is the acd service up? lab.check() shows it)") from None


def agents_lines(doc: dict) -> list[str]:
    """GET /agents as text without idle times: ``2771  idle      queue1,queue2``."""
    return [f"{a['id']:<6} {a['state']:<10} {','.join(a.get('memberof', []))}"
            for a in sorted(doc["agents"], key=lambda a: a["id"])]


def queues_lines(doc: dict) -> list[str]:
    """GET /queues as text: each queue with its calls' states and callers (no Call-IDs)."""
    lines = []
    for q in sorted(doc["queues"], key=lambda q: q["name"]):
        calls = ", ".join(f"{c['state']} from {c['from']}" for c in q["calls"]) or "-"
        lines.append(f"{q['name']:<9} {len(q['calls'])} call(s): {calls}")
    return lines


def agent_states(lab) -> dict[str, str]:
    return {a["id"]: a["state"] for a in rest(lab, "/agents")["agents"]}


def wait_for(pred, timeout: float = 15.0, step: float = 0.2) -> bool:
    """Poll ``pred()`` until true or timeout; True or False (cells print it, never a traceback)."""
    try:
        return bool(procs.wait_until(pred, timeout, step, what="notebook condition"))
    except procs.WaitTimeout:
        return False


def wait_agents(lab, want: dict[str, str], timeout: float = 15.0) -> bool:
    return wait_for(lambda: all(agent_states(lab).get(k) == v for k, v in want.items()), timeout)


def most_idle(doc: dict, queue: str) -> str | None:
    """The available member of ``queue`` that MIA routing picks: the longest idle, ties to the
    lower ID as the ACD breaks them (``members``); None if no member is idle."""
    return next((a["id"] for a in members(doc, queue) if a["state"] == "idle"), None)


# ---- queue log -----------------------------------------------------------------------------
def call_events(lines: list[str], call_id: str) -> list[tuple[str, str]]:
    """(EVENT, agent) of one call from queue_log lines ``epoch|callid|queue|Agent/ID|EVENT|...``."""
    out = []
    for line in lines:
        parts = line.split("|")
        if len(parts) >= 5 and parts[1] == call_id:
            out.append((parts[4], parts[3].split("/")[-1] if parts[3] != "NONE" else ""))
    return out


def answered_by(events: list[tuple[str, str]]) -> str | None:
    return next((agent for ev, agent in events if ev == "CONNECT"), None)


def rang(events: list[tuple[str, str]]) -> list[str]:
    """Agents that were offered the call and let it ring out (RINGNOANSWER), in order."""
    return [agent for ev, agent in events if ev == "RINGNOANSWER"]


# ---- processes inside nodes (by PID) -------------------------------------------------------
@dataclass
class Capture:
    """tcpdump inside a node, writing a pcap; ``stop()`` signals exactly its PID."""
    node: Any
    path: Path
    proc: subprocess.Popen | None = None

    @classmethod
    def start(cls, node, name: str, bpf: str = "udp", iface: str = "eth0") -> "Capture":
        path = node.run_dir / f"{name}.pcap"
        path.unlink(missing_ok=True)
        proc = node.popen(["tcpdump", "-i", iface, "-U", "--immediate-mode", "-n", "-s", "0", "-Z", "root",
                           "-w", str(path), bpf], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
        line = proc.stderr.readline()            # "listening on eth0 ..." once it captures
        if "listening" not in line:
            proc.kill()
            proc.wait()
            raise RuntimeError(f"tcpdump in {node.name} did not start: {line.strip()}")
        node.record_pid(proc.pid, f"tcpdump {name}")
        return cls(node, path, proc)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> Path:
        if self.proc and self.proc.poll() is None:
            time.sleep(0.2)                      # let the last datagrams reach the buffer
            stop_process(self.proc)
            self.proc.stderr.close()
        return self.path


_phones: dict[tuple[str, int], subprocess.Popen] = {}   # (node's run dir, port) -> its phone


def start_phone(node, agent: str, port: int = 5070, policy: str = "answer",
                name: str = "phone3", talk: float | None = None) -> subprocess.Popen:
    """Another labkit agent phone (``python -m labkit.acd.phoned``) inside ``node``; it logs in
    as ``agent`` at once.  Stop it with ``stop_process(p)`` (SIGTERM: it logs out first).
    A phone this process started on the same node and port (a cell run again) is stopped
    first, so there is never a second one: the new phone replaces it."""
    stop_phone(node, port)
    argv = [sys.executable, "-m", "labkit.acd.phoned", "--listen", f"{node.ip()}:{port}",
            "--acd", SIP, "--agent", agent, "--policy", policy, "--name", name]
    if talk is not None:
        argv += ["--talk", str(talk)]
    proc = node.popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # In the lab's record, so lab.down() (or a later replace=True, or `labkit clean`) stops it
    # even if the notebook never reaches its own stop call.
    node.record_pid(proc.pid, name)
    _phones[(str(node.run_dir), port)] = proc
    return proc


def stop_phone(node, port: int = 5070) -> int | None:
    """Stop the phone ``start_phone`` started on this node and port (it logs out first); its
    exit code, or None if there was none."""
    proc = _phones.pop((str(node.run_dir), port), None)
    return None if proc is None else stop_process(proc)


def ensure_phone(node, agent: str, port: int = 5070, **how) -> subprocess.Popen:
    """The phone ``start_phone`` started on this node and port if it still runs, else a new one
    (``how``: its policy, name, talk): for a section that needs the phone, whatever ran before."""
    proc = _phones.get((str(node.run_dir), port))
    return proc if proc is not None and proc.poll() is None else start_phone(node, agent, port, **how)


def stop_process(proc: subprocess.Popen, timeout: float = 5.0) -> int:
    """SIGTERM exactly this PID (labkit.procs.stop), SIGKILL if it lingers; its exit code."""
    if proc.poll() is None:
        recorded = procs.Proc.of(proc.pid, "notebook process")
        if recorded is not None:
            procs.stop([recorded], grace=timeout)
    return proc.wait(timeout=5)


def place_call(lab, target: str, hold: float = 1.0, **caller) -> Future:
    """Call ``sip:target@acd`` from the gateway node in the background; ``.result()`` is the
    dict of labkit.probes.sip.call (status, connected, ended_by, call_id, reinvites).
    ``caller``: how the caller behaves (reinvite=accept|refuse|ignore, allow, media)."""
    return _pool.submit(lab.node("gateway").call, "labkit.probes.sip:call", SIP, target,
                        hold=hold, local="192.168.2.2", timeout=hold + 60, **caller)


# ---- ladders -------------------------------------------------------------------------------
@dataclass
class Msg:
    """A captured SIP message: its ladder row plus the CSeq that pairs requests and responses."""
    row: LadderRow
    cseq: int
    method: str


def sip_messages(pcap: Path) -> list[Msg]:
    """Every SIP message of the capture in capture order (scapy reads, labkit's parser parses)."""
    from labkit.acd.ladder import row_of, sip_packets

    return [Msg(row_of(t, src, dst, msg), int(msg.cseq[0]), msg.cseq[1])
            for t, src, dst, msg in sip_packets(pcap)]


def endpoint_name(ep: str, names: dict[str, str] | None = None) -> str:
    names = NAMES if names is None else names
    return names.get(ep) or names.get(ep.rsplit(":", 1)[0]) or ep


def canonical(msgs: list[Msg]) -> list[LadderRow]:
    """One dialog's messages in a run-independent order: requests in the order they were sent,
    each non-INVITE request followed by its responses; INVITE responses stay where they came
    (180, CANCEL, 487 read as on the wire); 100 Trying and retransmissions left out.  On the
    wire two NOTIFYs and their 200s may interleave either way; this text does not."""
    entries: list[tuple[LadderRow, list[LadderRow]]] = []
    attached: dict[tuple[str, int, str], list[LadderRow]] = {}
    # a request a proxy forwards is one more hop of the same transaction: the answers to every
    # hop go after the last hop, so the text reads "forwarded, then answered" as on the wire
    chain: dict[tuple[int, str], tuple[str, list[tuple[str, int, str]]]] = {}
    for m in fresh(msgs):
        r = m.row
        if r.is_request:
            resps: list[LadderRow] = []
            key, hop = (r.src, m.cseq, m.method), (m.cseq, m.method)
            last = chain.get(hop)
            keys = last[1] + [key] if last and last[0] == r.src else [key]
            chain[hop] = (r.dst, keys)
            for k in keys:
                attached[k] = resps
            entries.append((r, resps))
            continue
        request = attached.get((r.dst, m.cseq, m.method))
        if request is None or m.method == "INVITE":
            entries.append((r, []))                    # INVITE answers keep their place
        else:
            request.append(r)
    return [row for req, resps in entries for row in (req, *resps)]


def fresh(msgs: list[Msg]) -> list[Msg]:
    """The messages in capture order without 100 Trying (sent or not depending on how fast the
    answer is) and without retransmissions (the same message again: same ends, Call-ID, CSeq
    and label)."""
    seen: set[tuple[str, str, str, int, str, str]] = set()
    out = []
    for m in msgs:
        r = m.row
        sig = (r.src, r.dst, r.call_id, m.cseq, m.method, r.label)
        if sig not in seen and not r.label.startswith("100 "):
            seen.add(sig)
            out.append(m)
    return out


def dialogs(msgs: list[Msg]) -> dict[str, list[Msg]]:
    """Messages grouped by Call-ID, in first-seen order."""
    out: dict[str, list[Msg]] = {}
    for m in msgs:
        out.setdefault(m.row.call_id, []).append(m)
    return out


def dialog_text(msgs: list[Msg], names: dict[str, str] | None = None) -> str:
    """One block per dialog (Call-ID), headed by who talks and what opened it, in the
    ``canonical`` order: the ladder as text that nbval can compare."""
    from labkit.acd.ladder import ladder_table

    names = NAMES if names is None else names
    blocks = []
    for ms in dialogs(msgs).values():
        rows = canonical(ms)
        ends = sorted({endpoint_name(e, names) for r in rows for e in (r.src, r.dst)})
        blocks.append(f"-- {' <-> '.join(ends)}: {rows[0].label.split(' ')[0]} dialog\n"
                      + ladder_table(rows, names))
    return "\n".join(blocks)


def wire_line(m: Msg, names: dict[str, str] | None = None) -> str:
    """One message as ``phone2 -> acd  200 OK (INVITE) [sdp]``."""
    return f"{endpoint_name(m.row.src, names)} -> {endpoint_name(m.row.dst, names)}  {m.row.label}"


def wire_order(msgs: list[Msg], names: dict[str, str] | None = None) -> list[str]:
    """Every message (``fresh``) as ``wire_line`` in capture order, all dialogs together."""
    return [wire_line(m, names) for m in fresh(msgs)]


def timeline(msgs: list[Msg], names: dict[str, str] | None = None) -> str:
    """The ladder in time order across dialogs: ms since the first message, a letter per
    dialog (Call-ID, lettered in the order they start, listed first), then who sends what."""
    ms = fresh(msgs)
    letters = {cid: "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[i % 26] for i, cid in enumerate(dialogs(ms))}
    legend = [f"{letters[cid]}: {' <-> '.join(sorted({endpoint_name(e, names) for m in d for e in (m.row.src, m.row.dst)}))}"
              f", {d[0].row.label.split(' ')[0]} dialog" for cid, d in dialogs(ms).items()]
    t0 = ms[0].row.time if ms else 0.0
    return "\n".join(legend + [f"{(m.row.time - t0) * 1000:9.1f} ms  {letters[m.row.call_id]}  {wire_line(m, names)}"
                               for m in ms])


def sent_before(order: list[str], first: str, then: str) -> bool:
    """``first`` is on the wire (``wire_order``) before ``then``; False if either is missing."""
    return first in order and then in order and order.index(first) < order.index(then)


def notify_states(pcap: Path, endpoint: str) -> list[list[str]]:
    """The dialog states (RFC 4235) each NOTIFY from ``endpoint`` (``ip:port``) lists, in order,
    retransmissions left out."""
    from labkit.acd.events import dialog_states
    from labkit.acd.ladder import sip_packets

    out, seen = [], set()
    for _, src, _, msg in sip_packets(pcap):
        if src == endpoint and msg.method == "NOTIFY" and (msg.call_id, msg.cseq) not in seen:
            seen.add((msg.call_id, msg.cseq))
            out.append([state for _, state in dialog_states(msg.body)])
    return out


def invite_dialog(pcap: Path, dst: str) -> list:
    """The SIP messages (labkit's parsed form) of the first dialog the ACD opened with an INVITE
    to ``dst`` (a name in NAMES, as ``phone2``), in capture order."""
    from labkit.acd.ladder import sip_packets

    packets = list(sip_packets(pcap))
    call_id = next((msg.call_id for _, src, to, msg in packets
                    if msg.method == "INVITE" and src == SIP and endpoint_name(to) == dst), None)
    if call_id is None:
        raise RuntimeError(f"{pcap}: no INVITE from the ACD to {dst}")
    return [msg for _, _, _, msg in packets if msg.call_id == call_id]


def anatomy(dialog: list) -> list[str]:
    """What identifies the messages of ``invite_dialog``, as facts that hold run to run: the
    INVITE's Via branch (RFC 3261 8.1.1.7) and CSeq (8.1.1.5), the From and To tags (8.1.1.3,
    12.1.1), and how the 200 OK, the ACK and the BYE match them."""
    invite = next(m for m in dialog if m.method == "INVITE")
    ok = next(m for m in dialog if m.status == 200 and m.cseq[1] == "INVITE")
    ack = next(m for m in dialog if m.method == "ACK")
    bye = next((m for m in dialog if m.method == "BYE"), None)
    branch = invite.top_via.branch
    lines = [
        f"INVITE: Via branch starts with the magic cookie z9hG4bK: {branch.startswith('z9hG4bK')}",
        f"INVITE: CSeq method {invite.cseq[1]}; From has a tag: {bool(invite.from_.tag)}; "
        f"To has a tag: {bool(invite.to.tag)}",
        f"200 OK: same branch, same CSeq: {ok.top_via.branch == branch and ok.cseq == invite.cseq}; "
        f"To now has a tag: {bool(ok.to.tag)}",
        f"ACK: same CSeq number, method ACK: {ack.cseq == (invite.cseq[0], 'ACK')}; "
        f"new branch: {ack.top_via.branch != branch}; "
        f"both tags as in the 200 OK: {(ack.from_.tag, ack.to.tag) == (ok.from_.tag, ok.to.tag)}",
    ]
    if bye is not None:
        ours = bye.from_.tag == invite.from_.tag
        same = bye.call_id == invite.call_id and {bye.from_.tag, bye.to.tag} == {ok.from_.tag, ok.to.tag}
        lines.append(f"BYE from {'the ACD' if ours else 'the phone'}: same Call-ID and tag pair: {same}"
                     + (f"; CSeq above the INVITE's: {bye.cseq[0] > invite.cseq[0]}" if ours else ""))
    return lines


def ensure_queue(lab, name: str, **settings) -> str:
    """``POST /queues`` unless the queue exists already (a section run again); its name."""
    if name not in [q["name"] for q in rest(lab, "/queues")["queues"]]:
        rest(lab, "/queues", "POST", {"name": name, **settings})
    return name


def join(lab, agent: str, queue: str) -> list[str]:
    """Add ``queue`` to ``agent``'s memberships, keeping the others (idempotent); memberof."""
    mine = rest(lab, f"/agents/{agent}")["memberof"]
    if queue not in mine:
        mine = rest(lab, f"/agents/{agent}", "PATCH", {"memberof": mine + [queue]})["memberof"]
    return mine


def with_endpoint(msgs: list[Msg], endpoint: str) -> list[Msg]:
    """Messages to or from ``endpoint`` (``ip:port``): a phone's whole talk with the ACD."""
    return [m for m in msgs if endpoint in (m.row.src, m.row.dst)]


def drop_provisional(rows: list[LadderRow]) -> list[LadderRow]:
    """Leave out 100 Trying (sent or not depending on how fast the answer is)."""
    return [r for r in rows if not r.label.startswith("100 ")]


# ---- checks the notebook prints ------------------------------------------------------------
def rtp_summary(report, spacing_ms: float = 20.0, tolerance_ms: float = 1.0) -> list[str]:
    """The RTP report as facts that hold run to run: counts and pass/fail, no SSRCs or times."""
    lines = [f"streams: {len(report.streams)}"]
    for i, s in enumerate(report.streams, 1):
        lines.append(f"stream {i}: payload types {s.payload_types}, "
                     f"20 ms spacing: {abs(s.mean_spacing_ms - spacing_ms) <= tolerance_ms}, "
                     f"sequence gaps: {s.seq_gaps}, timestamp errors: {s.ts_errors}, "
                     f"enough packets (>= 25): {s.packets >= 25}")
    lines.append(f"all checks pass: {report.ok}")
    return lines


def call_and_trace(lab, target: str, hold: float = 3.0) -> tuple[dict, list[tuple[str, str]]]:
    """Place one call and wait for it; returns the probe's dict and the call's queue-log events."""
    result = place_call(lab, target, hold=hold).result()
    events = call_events(rest(lab, "/queuelog")["lines"], result["call_id"])
    return result, events


def check_routed(lab, queue: str, agent: str, hold: float = 10.0) -> bool:
    """The exercise's check: a call into ``queue`` is answered by ``agent`` (the queue log's
    CONNECT line names it).  Raises AssertionError with what happened instead."""
    names = [q["name"] for q in rest(lab, "/queues")["queues"]]
    assert queue in names, f"no queue {queue!r} in GET /queues (have {names}): POST /queues first"
    members = {a["id"]: a.get("memberof", []) for a in rest(lab, "/agents")["agents"]}
    assert queue in members.get(agent, []), \
        f"agent {agent} is not a member of {queue}: PATCH /agents/{agent} with memberof"
    result, events = call_and_trace(lab, queue, hold=hold)
    got = answered_by(events)
    assert result["connected"] and got == agent, f"call into {queue}: {result} events {events}"
    return True


# ---- the exercise: who rings next ----------------------------------------------------------
PHONES = {"2771": "phone1", "2772": "phone2", "2773": "phone3"}   # agent -> its phone in NAMES


def members(doc: dict, queue: str) -> list[dict]:
    """The agents of ``queue`` in GET /agents, the longest idle first (ties: lower ID first,
    as the ACD breaks them)."""
    return sorted((a for a in doc["agents"] if queue in a.get("memberof", [])),
                  key=lambda a: (-int(a["idletime"]), a["id"]))


def members_lines(doc: dict, queue: str) -> list[str]:
    """The members of ``queue`` as text, longest idle first, without the idle times."""
    return [f"{i}. {a['id']} ({PHONES.get(a['id'], '?')}) {a['state']}"
            for i, a in enumerate(members(doc, queue), 1)]


def line_up(lab, queue: str, order: list[str], timeout: float = 30.0) -> dict:
    """Make agents of the lab's phones (2771 on phone1, 2772 on phone2) idle again in ``order``,
    the first one idle the longest: each phone's service restarts (it logs out, dials in and
    logs in again). Before each restart every idle member has been idle a whole second, so
    GET /agents (idletime in whole seconds) tells them apart. Members not in ``order`` keep
    their place, ahead of these. Every member is unpaused first (which also clears its count
    of missed offers, so no auto-pause comes in the middle). Returns GET /agents."""
    doc = rest(lab, "/agents")
    ids = [a["id"] for a in members(doc, queue)]
    for agent in ids:
        rest(lab, f"/agents/{agent}", "PATCH", {"paused": False})

    def settled() -> bool:
        got = [a for a in rest(lab, "/agents")["agents"] if a["id"] in ids]
        return all(a["state"] == "idle" and int(a["idletime"]) >= 1 for a in got)

    for agent in order:
        if not wait_for(settled, timeout):
            raise RuntimeError(f"line_up {queue}: members not all idle after {timeout:g} s: "
                               f"{members_lines(rest(lab, '/agents'), queue)}")
        lab.restart(PHONES[agent], "sipphone")
        if not wait_agents(lab, {agent: "idle"}, timeout):
            raise RuntimeError(f"line_up {queue}: agent {agent} did not log in again within "
                               f"{timeout:g} s (states: {agent_states(lab)})")
    if not wait_for(settled, timeout):
        raise RuntimeError(f"line_up {queue}: members not all idle after {timeout:g} s")
    return rest(lab, "/agents")


def offers_on_wire(pcap: Path) -> list[str]:
    """The agents the ACD's INVITEs rang, in order: one per offer (a new Call-ID from the ACD
    to a phone), re-INVITEs and retransmissions left out."""
    seen: dict[str, str] = {}
    agent_of = {phone: agent for agent, phone in PHONES.items()}
    for m in sip_messages(pcap):
        if m.row.is_request and m.method == "INVITE" and m.row.src == SIP:
            who = agent_of.get(endpoint_name(m.row.dst))
            if who and m.row.call_id not in seen:
                seen[m.row.call_id] = who
    return list(seen.values())


def two_calls(lab, queue: str, hold: float = 8.0) -> tuple[list[list[str]], list[str]]:
    """Two calls into ``queue`` from the gateway, the second placed once the first is
    connected to an agent. For each call, the agents it was offered to in order, from the
    queue log (each RINGNOANSWER, then the CONNECT); and the agents the ACD's INVITEs rang,
    from a capture in the ACD's namespace."""
    cap = Capture.start(lab.node("acd"), f"{queue}-calls")
    try:
        first = place_call(lab, queue, hold=hold)
        wait_for(lambda: "incall" in agent_states(lab).values() or first.done(), hold + 30)
        second = place_call(lab, queue, hold=2)
        results = [first.result(), second.result()]
    finally:
        pcap = cap.stop()
    lines = rest(lab, "/queuelog")["lines"]
    logged = [[agent for ev, agent in call_events(lines, r["call_id"]) if ev in ("RINGNOANSWER", "CONNECT")]
              for r in results]
    return logged, offers_on_wire(pcap)


def check_prediction(lab, queue: str, predict, silent: set[str], timeout: float = 60.0) -> list[list[str]]:
    """The exercise's check: ``predict(GET /agents, queue, silent)`` must name, for each of two
    calls, the agents the ACD offers it to, in order; then the calls are placed and the queue
    log (and the INVITEs on the wire) say what happened. AssertionError with both otherwise.
    Waits for the members to be idle again before it returns."""
    doc = rest(lab, "/agents")
    before = members_lines(doc, queue)
    try:
        predicted = predict(doc, queue, set(silent))
    except NotImplementedError:
        raise AssertionError("predict() raises NotImplementedError: write its body in the cell "
                             "above (nbgrader's stub is still there)") from None
    rang, wire = two_calls(lab, queue)
    ids = [a["id"] for a in members(doc, queue)]
    wait_for(lambda: all(agent_states(lab).get(a) == "idle" for a in ids), timeout)
    assert [x for call in rang for x in call] == wire, \
        f"the queue log says {rang} but the ACD's INVITEs went to {wire} (a lab problem, not yours)"
    assert isinstance(predicted, (list, tuple)) and [list(c) for c in predicted] == rang, (
        f"predicted {predicted!r}, but the ACD offered call 1 to {rang[0]} and call 2 to {rang[1]} "
        f"(members before the calls, longest idle first: {'; '.join(before)}; never answer: {sorted(silent)})")
    return rang
