CELLS = [
("md", """
# 04 — The seed's SIP ACD: login, queues, redirects, and the wire

The post *ACD Server with resiprocate* describes a call-centre server: callers reach a
**queue** by its address (`sip:queue1@acd`), **agents** log in by dialling `*44` and keying
their ID as SIP INFO digits, the ACD **subscribes** to the agent's phone and offers calls to
the **most idle** agent once the phone says it is idle, callers hear **music** while they
wait, and a REST API on port **242** answers `GET /queues` and `GET /agents` in JSON.

**DTMF in INFO is the legacy way.** Sending digits in SIP INFO bodies (`application/dtmf-relay`)
is what RFC 6086 §1 calls *legacy INFO usage*: INFO with no Info Package, so nothing says
what the body means beyond a vendor convention. The standard way to carry digits is in the
media: RTP telephone-events (RFC 4733, which obsoleted RFC 2833), negotiated in the SDP. The
seed's ACD reads INFO digits, so labkit's phones send them; a phone that sends RFC 4733 events
could not log in to it.

labkit rebuilds it (`labkit/acd`, notes in `docs/notes/acd.md`). The lab
`topologies/acd/lab.yaml` puts on the voice VLAN: the ACD (192.168.2.10), a **gateway**
(192.168.2.2: it places the calls, as the seed's FXO gateway, 192.168.2.22 in notebook 00,
would) and two agent phones, which log in by themselves: phone1 (agent 2771, 192.168.2.101)
and phone2 (agent 2772, 192.168.2.102). These are this lab's agent phones, not the seed's
phone1 and phone2 of notebooks 00 and 07.

**Goals**
1. watch an agent log in, on the wire and in `GET /agents`;
2. queue a call with music, see it routed to the most idle agent, and offered to the next
   agent when the first does not answer;
3. read one SIP message in full (Via branch, CSeq, tags), draw a call's SIP ladder in time
   order from a tcpdump capture, and check its RTP with scapy;
4. predict which agents the next two calls ring after a ring-out, and check the prediction
   with real calls (exercise, graded);
5. add a queue at run time through REST (exercise, graded).
"""),
("code", """
import json, time
import labkit
from labkit.lessons import acd
from labkit.acd.ladder import plot_ladder, rtp_check_pcap, sip_rows
lab = labkit.Lab.up(str(acd.LAB_FILE), name="acdnb", replace=True)
print("phones logged in:", acd.wait_agents(lab, {"2771": "idle", "2772": "idle"}))
"""),
("code-ignore", """
lab.draw();
"""),
("md", """
## An agent logs in

`acd.rest(lab, path)` runs `curl` on the gateway node against `http://192.168.2.10:242`.
The text form below drops `idletime` (it changes every second); the raw JSON follows in the
seed's own shape. Agent 2773 exists in the configuration but nobody has logged in as 2773.
"""),
("code", """
print("\\n".join(acd.agents_lines(acd.rest(lab, "/agents"))))
"""),
("md", """
Now a third phone, **phone3**, starts on the gateway node (port 5070) and logs in as 2773.
Its policy is to **ignore** calls (it never answers): we need that later. Run the cell again and
the new phone3 replaces the old one (`acd.stop_phone` stops it before the capture: it logs out). A `tcpdump` runs
inside the ACD's namespace meanwhile; `acd.Capture` starts it and stops it by its PID.
The text below is grouped one dialog (Call-ID) at a time, each in a fixed order that nbval can
compare: the login call (INVITE to `acdlogin`, four INFO digits, BYE), then the ACD's SUBSCRIBE
*to the phone* and the phone's NOTIFYs. The order *across* the two dialogs is in the time-ordered
ladder after it. The NOTIFY bodies are RFC 4235 dialog-info documents. RFC 4235 §3.7.1 gives a
dialog the states `trying`, `proceeding`, `early`, `confirmed` and `terminated`: there is no
`idle` state. The first NOTIFY lists the login call as `confirmed` (it is still up); the second,
sent after the BYE, lists no dialog at all (an empty `<dialog-info>` document; the check under
the ladder reads the states out of the captured bodies). "Idle" is the ACD's own reading: a phone
whose NOTIFY lists no dialog in `trying`, `proceeding`, `early` or `confirmed` is free, and that
NOTIFY makes the agent available.
"""),
("code", """
acd.stop_phone(lab.node("gateway"), port=5070)     # a phone3 from an earlier run of this cell
cap = acd.Capture.start(lab.node("acd"), "login")
phone3 = acd.start_phone(lab.node("gateway"), "2773", port=5070, policy="ignore")
print("2773 idle:", acd.wait_agents(lab, {"2773": "idle"}))
login_pcap = cap.stop()
login_msgs = acd.with_endpoint(acd.sip_messages(login_pcap), "192.168.2.2:5070")
print(acd.dialog_text(login_msgs))
order = acd.wire_order(login_msgs)
print("the ACD subscribes before the login call ends:",
      acd.sent_before(order, "acd -> phone3  SUBSCRIBE", "phone3 -> acd  BYE"))
print("dialog states in each NOTIFY (RFC 4235):", acd.notify_states(login_pcap, "192.168.2.2:5070"))
"""),
("md", """
The same messages in the order they crossed the wire (times from the capture, so this cell's
output is not compared): the letter says which dialog each message belongs to.
"""),
("code-ignore", """
print(acd.timeline(login_msgs))
"""),
("code", """
print("\\n".join(acd.agents_lines(acd.rest(lab, "/agents"))))
"""),
("code-ignore", """
print(json.dumps(acd.rest(lab, "/agents"), indent=1))
"""),
("md", """
## A call waits in the queue, with music

Both agents of `queue2` are paused through REST (`PATCH /agents/{id} {"paused": true}`), then
the gateway calls `sip:queue2@192.168.2.10` (`labkit.probes.sip.call`, run inside the
gateway node in the background). The ACD answers the caller itself and plays the welcome
prompt and music while the call waits: `GET /queues` shows it `waiting`.
"""),
("code", """
for agent in ("2771", "2772"):      # whatever ran before: both back and idle, then paused
    acd.rest(lab, f"/agents/{agent}", "PATCH", {"paused": False})
print("2771 and 2772 idle:", acd.wait_agents(lab, {"2771": "idle", "2772": "idle"}))
for agent in ("2771", "2772"):
    acd.rest(lab, f"/agents/{agent}", "PATCH", {"paused": True})
cap = acd.Capture.start(lab.node("acd"), "queued")
pending = acd.place_call(lab, "queue2", hold=4)
print("queued:", acd.wait_for(lambda: acd.rest(lab, "/queues/queue2")["calls"] != []))
print("\\n".join(acd.queues_lines(acd.rest(lab, "/queues"))))
print("\\n".join(acd.agents_lines(acd.rest(lab, "/agents"))))
"""),
("code-ignore", """
print(json.dumps(acd.rest(lab, "/queues"), indent=1))
"""),
("md", """
After 1.5 s of music, 2772 is unpaused: the ACD offers the call to the phone (an INVITE
carrying the *caller's* SDP), the phone answers, and the ACD re-INVITEs the caller with the
phone's SDP so the RTP goes straight between them (third-party call control; what this
re-INVITE assumes is discussed under *Two ways the media meets* below). The queue log
(`GET /queuelog`, Asterisk's `queue_log` format) tells who took the call, and once it is over
2771 is unpaused again. The text groups the messages by dialog; the checks under it read the
order on the wire.
"""),
("code", """
time.sleep(1.5)
acd.rest(lab, "/agents/2772", "PATCH", {"paused": False})
call = pending.result()
acd.rest(lab, "/agents/2771", "PATCH", {"paused": False})
queued_pcap = cap.stop()
events = acd.call_events(acd.rest(lab, "/queuelog")["lines"], call["call_id"])
print("status", call["status"], "| connected:", call["connected"], "| events:", events)
queued_msgs = acd.sip_messages(queued_pcap)
print(acd.dialog_text(queued_msgs))
order = acd.wire_order(queued_msgs)
print("phone2 answers before the ACD re-INVITEs the caller:",
      acd.sent_before(order, "phone2 -> acd  200 OK (INVITE) [sdp]", "acd -> gateway  INVITE [sdp]"))
print("the caller's BYE comes before the ACD's BYE to phone2:",
      acd.sent_before(order, "gateway -> acd  BYE", "acd -> phone2  BYE"))
"""),
("md", """
### One SIP message in full

Here is the ACD's INVITE to phone2 from that capture, as labkit's parser read it (it prints
header names in their long form). The branch, tags and Call-ID are random on every run, so this
output is not compared; the facts below it are.

- **Via** `branch=z9hG4bK...`: names the *transaction* (RFC 3261 §8.1.1.7). The prefix
  `z9hG4bK` is the magic cookie that says the branch is unique (RFC 3261 §8.1.1.7, §17.2.3). The
  200 OK comes back with the same branch; the ACK for a 2xx is a new transaction, so it gets a
  new branch (§13.2.2.4, §17.1.1.3).
- **CSeq** `1 INVITE`: a number and a method (§8.1.1.5). Within a dialog each new request from one
  side takes the next number; the ACK reuses the INVITE's number with method ACK, and a
  response copies its request's CSeq.
- **From tag / To tag**: From names the caller (the ACD passes its identity on) but carries a
  random tag the ACD chose for this dialog (§8.1.1.3); the To has none until the
  phone adds its own in its answer (§8.2.6.2). Call-ID plus the two tags identify the dialog
  (§12), which is why the BYE carries them both.
"""),
("code-ignore", """
invite_dialog = acd.invite_dialog(queued_pcap, "phone2")
print(next(m for m in invite_dialog if m.method == "INVITE").encode().decode())
"""),
("code", """
print("\\n".join(acd.anatomy(acd.invite_dialog(queued_pcap, "phone2"))))
"""),
("md", """
### The ladder in time order

The whole capture in the order the messages crossed the wire, first as text (a letter per
dialog), then drawn (requests blue, responses green). The caller's leg and the agent's leg are
separate dialogs; the ACD is in the middle of both, which is why it sees every hang-up and knows
when the agent is free again. Both are timed, so these outputs are not compared.
"""),
("code-ignore", """
print(acd.timeline(queued_msgs))
"""),
("code-ignore", """
plot_ladder(acd.drop_provisional(sip_rows(queued_pcap)), acd.NAMES, title="queued call, queue2");
"""),
("md", """
### The music on the wire: an RTP check with scapy

The same capture holds the music the caller heard while it waited. scapy has an RTP layer (it has no SIP layer: labkit's parser reads the SIP above). Every RTP
packet the ACD sent to the caller while it waited should be G.711 µ-law (**payload type 0**,
the only codec the seed's ACD speaks), with **consecutive sequence numbers**, and paced every
**20 ms** (160 samples at 8 kHz).
"""),
("code", """
from scapy.all import IP, UDP, rdpcap
from scapy.layers.rtp import RTP
rtp = [RTP(bytes(p[UDP].payload)) for p in rdpcap(str(queued_pcap))
       if UDP in p and p[IP].dst == "192.168.2.2" and bytes(p[UDP].payload)[:1] >= b"\\x80"]
seq = [r.sequence for r in rtp]
print("payload types:", sorted({r.payload_type for r in rtp}))
print("consecutive sequence numbers:", all((b - a) % 65536 == 1 for a, b in zip(seq, seq[1:])))
"""),
("md", """
`rtp_check_pcap` (labkit.acd.ladder, on top of `labkit.rtp.check_rtp`) checks the same
capture per stream (SSRC), timestamps and spacing included. It also bounds how far any
packet lands from where its timestamp puts it; this lab shares two CPU cores with whatever
else runs, so that bound is 40 ms here (the ACD's own pacing measures far tighter: see
`bench/acd.py`). The table below the check shows the measured spacing and jitter.
"""),
("code", """
report = rtp_check_pcap(queued_pcap, dst="192.168.2.2", jitter_tolerance_ms=40)
print("\\n".join(acd.rtp_summary(report)))
"""),
("code-ignore", """
print(report.table(timings=True))
print(report.problems or "no problems")
"""),
("md", """
## Most idle agent first

The members of `queue2` are 2771 and 2772. This section sets up the state it needs whatever
ran before it: `acd.line_up` unpauses both, waits until both are idle, and then has phone2 log
in again, so 2771 has been idle longer. `GET /agents` then says who has been idle longer
(`idletime`), and the seed's *most idle agent* rule says that one gets the next call of
`queue2`.
"""),
("code", """
agents = acd.line_up(lab, "queue2", ["2772"])
print("\\n".join(acd.members_lines(agents, "queue2")))
expected = acd.most_idle(agents, "queue2")
call, events = acd.call_and_trace(lab, "queue2", hold=1)
print("most idle by REST:", expected, "| answered by:", acd.answered_by(events))
"""),
("md", """
## Two ways the media meets: re-INVITE or relay

The ACD answers every caller itself (it has to, to play the music), so the caller's RTP
first flows to the ACD. When an agent answers there are two ways to join the two:

- **re-INVITE** (third-party call control, RFC 3725): the agent was offered the *caller's*
  SDP, and the ACD sends the caller a re-INVITE with the *agent's* SDP. RTP then flows
  caller <-> agent directly; the ACD keeps only the signalling. That is the ladder above.

  Note what this reuses: the caller's SDP was an offer the ACD had **already answered** (with
  its own music port). The phone got it as a fresh offer, and the caller gets the phone's
  answer as a new offer in the re-INVITE. That works only if the caller, answering the
  re-INVITE, keeps the address, port and codec of its first offer, because that is what the
  phone is already sending to. RFC 3264 §8 lets a new answer change them; this lab's gateway
  (and sipp) keep them, so it works here. RFC 3725 §4.1 (Flow I) avoids the assumption: the
  controller sends the caller a re-INVITE **without** an offer, the caller's 200 OK carries a
  fresh offer, the controller passes it to the agent, and the agent's answer goes back to the
  caller in the ACK.
- **REFER** (RFC 3515) would be the other way to connect them, and it is not what the ACD
  does: the ACD would ask the caller to send its own INVITE to the agent, and then leave. The
  caller needs REFER support, and the ACD would no longer be in the call's signalling: it would
  not see the hang-up and could know the agent is free again only from the phone's NOTIFYs.
  With re-INVITE the ACD stays in both dialogs.
- **relay**: the ACD carries the RTP itself, in its one RTP thread, renumbered per leg (its
  own SSRC, sequence numbers and timestamps carrying on from the music), so each side hears
  one continuous stream.

Not every caller takes a mid-call re-INVITE: sipp's built-in `uac` aborts the call, and many
gateways answer `488`. So the ACD (`bridge: auto`, the default) re-INVITEs only callers whose
INVITE lists `INVITE` in its `Allow` header (RFC 3261 20.5), and when a re-INVITE fails
(no answer within 64*T1, 488, 491, 501, ...) it **falls back** to relaying: the queue log
says `RELAYFALLBACK`, and if the agent's phone lists `INVITE` the ACD re-INVITEs the phone
towards its own port so both directions pass the relay.

The gateway now calls `queue1` (only agent 2771, phone1, is a member) as a caller that
answers the re-INVITE with `488 Not Acceptable Here`:
"""),
("code", """
acd.rest(lab, "/agents/2771", "PATCH", {"paused": False})
print("2771 idle:", acd.wait_agents(lab, {"2771": "idle"}, timeout=30))
cap = acd.Capture.start(lab.node("acd"), "fallback")
call = acd.place_call(lab, "queue1", hold=2, reinvite="refuse").result()
fallback_pcap = cap.stop()
events = acd.call_events(acd.rest(lab, "/queuelog")["lines"], call["call_id"])
print("re-INVITEs the caller got:", call["reinvites"], "| taken:", call["connected"])
print("events:", [e for e, _ in events])
counters = acd.rest(lab, "/stats")["counters"]
print({k: counters[k] for k in ("reinvite_failed", "relayed_calls")})
print(acd.dialog_text(acd.sip_messages(fallback_pcap)))
"""),
("md", """
The ladder of the call that refused the re-INVITE; compare it with the queued call's ladder
(which took it) under *The ladder in time order*: here the caller answers 488, and the ACD
re-INVITEs the phone instead (its second INVITE to phone1) and relays.
"""),
("code-ignore", """
plot_ladder(acd.drop_provisional(sip_rows(fallback_pcap)), acd.NAMES, title="488, then relay");
"""),
("md", """
## The next agent on no answer (not a SIP redirect)

The seed calls this "redirect on no answer", but it is not a SIP redirect. A SIP redirect is a
3xx response (RFC 3261 §8.1.3.4, §21.3): the server answers the caller's INVITE with new
Contact addresses and the *caller* tries them itself. Here the caller never learns anything:
the ACD, a back-to-back user agent, cancels its own INVITE to the first agent (CANCEL,
RFC 3261 §9) and sends a new INVITE, in a new dialog, to the next agent; the caller's dialog
with the ACD is untouched, the music goes on. Telephony calls it *call forwarding on no answer*
or, in an ACD, *ring-no-answer* (Asterisk's queue log says `RINGNOANSWER`).

phone3 must run (`acd.ensure_phone` starts it unless it runs already). A new queue,
`helpdesk`, is added at run time (`POST /queues`, only if it is not there yet) with
a ring timeout of 2 s, and agents 2773 (phone3, which ignores calls) and 2772 join it
(`PATCH /agents/{id}`). Then `acd.line_up` has phone2 log in again, so 2773 has been idle
longest whatever ran before: it is offered the call first; its phone rings and nobody answers;
after 2 s the ACD CANCELs that offer (queue log: `RINGNOANSWER`) and offers the call to the next
most idle agent, 2772.
"""),
("code", """
phone3 = acd.ensure_phone(lab.node("gateway"), "2773", port=5070, policy="ignore")
print(acd.ensure_queue(lab, "helpdesk", ring_timeout=2))
for agent in ("2773", "2772"):
    print(agent, acd.join(lab, agent, "helpdesk"))
agents = acd.line_up(lab, "helpdesk", ["2772"])
print("most idle in helpdesk:", acd.most_idle(agents, "helpdesk"))
"""),
("code", """
cap = acd.Capture.start(lab.node("acd"), "redirect")
call, events = acd.call_and_trace(lab, "helpdesk", hold=4)
redirect_pcap = cap.stop()
print("connected:", call["connected"], "| rang out:", acd.rang(events),
      "| answered by:", acd.answered_by(events))
redirect_msgs = acd.sip_messages(redirect_pcap)
print(acd.dialog_text(redirect_msgs))
order = acd.wire_order(redirect_msgs)
print("the ACD CANCELs phone3 before it INVITEs phone2:",
      acd.sent_before(order, "acd -> phone3  CANCEL", "acd -> phone2  INVITE [sdp]"))
print("no 3xx reached the caller:", not any(line.startswith("acd -> gateway  3") for line in order))
"""),
("code-ignore", """
print(acd.timeline(redirect_msgs))
plot_ladder(acd.drop_provisional(sip_rows(redirect_pcap)), acd.NAMES, title="next agent on no answer, helpdesk");
"""),
("md", """
`GET /queues/{name}` adds statistics to the seed's shape:
"""),
("code", """
stats = acd.rest(lab, "/queues/helpdesk")["stats"]
print({k: stats[k] for k in ("waiting", "entered", "answered", "abandoned")})
print("\\n".join(acd.agents_lines(acd.rest(lab, "/agents"))))
"""),
("md", """
## Exercise 1: who rings next?

Every queue here but `queue3` (`ringall`) offers a call to its most idle agent, and a call
that rings out goes on to the most idle agent it has not been offered to yet. An offer is an
INVITE from the ACD to the agent's phone; one that rings out ends with the ACD's CANCEL (and
`RINGNOANSWER` in the queue log). The ring-out also restarts that agent's idle time: a phone
that does not answer does not win the next call.

A new queue, `predict` (ring timeout 2 s), gets all three agents. phone3 (2773) never answers
(the next cell starts it unless it runs already).
The next cell lines the agents up: 2773 has been idle longest, then phone1 and phone2 log in
again, in that order (`acd.line_up`). `acd.members_lines` lists the members longest idle first.
"""),
("code", """
phone3 = acd.ensure_phone(lab.node("gateway"), "2773", port=5070, policy="ignore")
print(acd.ensure_queue(lab, "predict", ring_timeout=2))
for agent in ("2771", "2772", "2773"):
    acd.join(lab, agent, "predict")
agents = acd.line_up(lab, "predict", ["2771", "2772"])
print("\\n".join(acd.members_lines(agents, "predict")))
"""),
("md", """
Two calls come into `predict`, the second while the first is still connected to its agent.
**Your task:** write `predict(agents, queue, silent)`. It takes `GET /agents` (a dict, as
`acd.rest(lab, "/agents")` returns it; `acd.members(agents, queue)` gives the queue's members
longest idle first), the queue's name and the set of agents whose phones never answer. It
returns, for each of the two calls, the agents the ACD offers it to, in order, for example
`[["2771"], ["2772", "2773"]]`. The teacher's edition shows a solution in the next cell. The
cell after it is graded: it calls your function, places the two calls from the gateway, and
compares your answer with the queue log and with the INVITEs captured in the ACD's namespace.
"""),
("solution:who-rings", """
def predict(agents, queue, silent):
    ### BEGIN SOLUTION
    line = [a["id"] for a in acd.members(agents, queue) if a["state"] == "idle"]
    calls = []
    for _ in range(2):
        offered = []
        for agent in list(line):
            offered.append(agent)
            line.remove(agent)
            if agent not in silent:
                break                 # answered: busy with this call
            line.append(agent)        # rang out: idle from zero, to the back of the line
        calls.append(offered)
    return calls
    ### END SOLUTION
"""),
("check:who-rings-check:4", """
rang = acd.check_prediction(lab, "predict", predict, silent={"2773"})
print("call 1 rang", rang[0], "| call 2 rang", rang[1], "| as predicted")
### BEGIN HIDDEN TESTS
# another starting state: phone2 logs in again first, so 2772 is idle longer than 2771
acd.line_up(lab, "predict", ["2772", "2771"])
rang_again = acd.check_prediction(lab, "predict", predict, silent={"2773"})
### END HIDDEN TESTS
"""),
("md", """
## Exercise 2: open a sales line at run time

The ACD takes new queues and memberships over REST, with no restart. **Your task:** create a
queue `sales` and make agent **2771** (phone1) a member of it, keeping its other queues. The
next cell makes sure 2771 is available (unpaused, idle) and lists its queues now. Write your REST
calls (`acd.rest(lab, path, method, body)`) in the cell after it (the teacher's edition shows a
solution there, one that can run twice). The cell after that is graded: it calls
`sip:sales@192.168.2.10` from the gateway and passes only if agent 2771 answers.
"""),
("code", """
acd.rest(lab, "/agents/2771", "PATCH", {"paused": False})
print("2771 idle:", acd.wait_agents(lab, {"2771": "idle"}, timeout=30))
queues_before = acd.rest(lab, "/agents/2771")["memberof"]
print("2771 is a member of", queues_before)
"""),
("solution:sales-line", """
### BEGIN SOLUTION
if "sales" not in [q["name"] for q in acd.rest(lab, "/queues")["queues"]]:
    acd.rest(lab, "/queues", "POST", {"name": "sales"})
mine = acd.rest(lab, "/agents/2771")["memberof"]
if "sales" not in mine:
    acd.rest(lab, "/agents/2771", "PATCH", {"memberof": mine + ["sales"]})
### END SOLUTION
"""),
("check:sales-line-check:2", """
print("2771 is a member of", acd.rest(lab, "/agents/2771")["memberof"])
print("sales routed to 2771:", acd.check_routed(lab, "sales", "2771"))
### BEGIN HIDDEN TESTS
# 2771 kept the queues it had, sales added: a call into queue1 (2771 is its only member) still reaches it
kept = acd.rest(lab, "/agents/2771")["memberof"]
assert set(queues_before) | {"sales"} <= set(kept), \\
    f"2771 is a member of {kept}; want sales added to the queues it had ({', '.join(queues_before)})"
acd.wait_agents(lab, {"2771": "idle"}, timeout=30)
assert acd.check_routed(lab, "queue1", "2771")
### END HIDDEN TESTS
"""),
("md", """
## Tear down

Always the last cell: phone3 is stopped by its PID (it logs out first), then `lab.down()`
removes the namespaces and the processes labkit recorded; it returns what it could not
remove (an empty list).
"""),
("code", """
print("phone3 exit code:", acd.stop_process(phone3))
lab.down()
"""),
]
