CELLS = [
("md", """
# 06 — The ACD behind a PBX: the seed's architecture, with Kamailio as Asterisk

The ACD post says: *"All devices, including the ACD server are talking with asterisk. The ACD
server registers with asterisk just like any other phone would. When my gateway (FXO) sends a
call to asterisk, asterisk routes it to the ACD server."* Agents dial `*44` and `*45`, which
the dial plan routes to `acdlogin` and `acdlogout`, and the ACD follows each agent through
the PBX's **hint**.

Asterisk is not packaged for this Debian; **Kamailio** is. labkit reads the seed's own
`sip.conf` and `extensions.conf` (`topologies/acd/`) and turns them into Kamailio routing
(`labkit/pbx`, notes in `docs/notes/pbx.md`), just as `labkit.ios` turns the 3550's IOS config
into Linux. The lab `topologies/acd/pbx.yaml` adds the PBX (192.168.2.5) to notebook 04's
voice VLAN.

**Goals**
1. watch every device register, and compare Kamailio's registrations with the ACD's agents;
2. see the ACD subscribe to an agent's extension at the PBX, and the PBX's NOTIFYs follow the
   agent's real calls;
3. draw one queued call's ladder gateway → PBX → ACD → PBX → agent from a capture;
4. fix a broken `*44` in the dial plan (exercise, graded, with a hidden test of the rest of
   the plan).
"""),
("code", """
import labkit
from labkit.lessons import acd, pbx
from labkit.acd.ladder import plot_ladder
lab, cap = pbx.up()          # tcpdump runs in the PBX's namespace before any daemon starts
print("agents logged in:", acd.wait_agents(lab, {"2771": "idle", "2772": "idle"}, timeout=30))
boot = cap.stop()
"""),
("code-ignore", """
lab.draw();
"""),
("md", """
## Everybody registers

The capture was running in the PBX's namespace while the daemons started. The ACD registers
one AOR per queue plus `acdlogin` and `acdlogout` and its own peer name `acdserver`. Each phone
registers its own name. The PBX answers every first REGISTER with **401** and a digest
challenge, and accepts the retry that carries `Authorization` with **200**. The passwords
are the `secret=` lines of `sip.conf`; Kamailio reads them from its `subscriber` table.
"""),
("code", """
print("\\n".join(pbx.register_lines(boot)))
"""),
("md", """
Kamailio's own view: `kamcmd ul.dump` over its control socket (parsed into AOR → contact),
next to what the ACD says in `GET /agents`. The queue AORs point at the ACD (192.168.2.10),
and `phone1` and `phone2` point at the phones.
"""),
("code", """
print("\\n".join(pbx.registration_lines(lab)))
print()
print("\\n".join(acd.agents_lines(acd.rest(lab, "/agents"))))
"""),
("md", """
## The hint: the ACD subscribes at the PBX

When phone1 logged in (it dialled `*44`, and the PBX routed that to `sip:acdlogin@acd`), the
ACD took the agent's extension at the PBX, `sip:phone1@192.168.2.5`, and subscribed to it
with `Event: dialog`. The SIP profile of the ACD in `sip.conf` has
`subscribecontext=acdpresence`, and that context holds the seed's
`exten => _.,hint,SIP/${EXTEN}`. So the PBX does not pass the SUBSCRIBE on to the phone. It
answers it itself, from what it knows about phone1's calls. The NOTIFYs come from
192.168.2.5.
"""),
("code", """
print("\\n".join(pbx.subscribe_lines(boot, "phone1")))
"""),
("md", """
## A queued call, through the PBX

The gateway (a static peer in `sip.conf`, known by its address) calls `queue1` at the PBX.
Its context `[fxo]` sends `_queue.` to `Dial(SIP/${EXTEN})`, which is the AOR `queue1` the ACD
registered. The ACD answers and offers the call to the most idle agent, 2771. It sends that
call **to the PBX** as `sip:phone1@192.168.2.5`, and the ACD's context `[acdserver]` (the
seed's `_.` → `Dial(SIP/${EXTEN})`) delivers it to phone1's registered contact. A second
capture runs in the PBX's namespace for this call.
"""),
("code", """
cap = acd.Capture.start(lab.node("pbx"), "call", bpf="udp")
result = pbx.call(lab, "queue1", hold=4).result()
acd.wait_agents(lab, {"2771": "idle"}, timeout=30)
call_pcap = cap.stop()
print("caller got", result["status"], "connected to an agent:", result["connected"])
legs = pbx.call_ids(call_pcap, result["call_id"])
print("\\n".join(pbx.request_paths(call_pcap, legs)))
"""),
("md", """
Every request above went through the PBX. The first leg is the caller's, and the ACD
re-INVITEs the gateway to join it to the agent. The second leg is the ACD's call to phone1,
which the PBX first challenges (407) before it routes the call. The full ladder, with every
response, drawn from the same capture (the order of responses that cross on the wire can
differ from run to run, so this cell's output is not compared):
"""),
("code-ignore", """
print(pbx.ladder_text(call_pcap, legs))
plot_ladder(pbx.ladder_rows(call_pcap, legs), pbx.NAMES);
"""),
("md", """
The PBX record-routes: the ACK, BYE and re-INVITE of each leg also pass through it, so the
`dialog` module sees every state of the call. Media does not: the SDP passes through
unchanged, and the RTP goes straight between the gateway, the ACD and phone1.

### The agent's state comes from a call the PBX saw

Kamailio's `pua_dialoginfo` publishes each state of the calls it routes for the devices at
either end, and its presence server sends them in NOTIFYs to the watcher, the ACD. In order,
the NOTIFYs about phone1 during that call said:
"""),
("code", """
print(" -> ".join(pbx.dialog_states(call_pcap, "phone1")))
"""),
("md", """
The call rang phone1 (`early`), phone1 answered (`confirmed`), and the hang-up ended the
dialog (`terminated`): the dialog states of RFC 4235 (section 3.7.1), which has no "idle".
Idle is the ACD's word for an agent whose dialogs have all ended: it offers phone1 no new
call until it reads that last NOTIFY and the wrap-up time has passed.
"""),
("md", """
## The dial plan, linted

`labkit lint` reads the same files. It repeats the seed's own caution about `_.`, which on a
real Asterisk also matches the special extensions `h` (hang-up) and `i` (invalid). It also
notes that in a pattern a lowercase `n`, `x` or `z` is a digit class, not a letter. The post's
suggested `_phone.` would not match `phone1`, because there `n` means a digit from 2 to 9.
`_pho[n]e.` does match it.
"""),
("code", """
from labkit.pbx import dialplan
acd_dir = pbx.paths.topology("acd")
for d in dialplan.lint(acd_dir / "sip.conf", acd_dir / "extensions.conf"):
    print(str(d).replace(f"{acd_dir}/", ""))
"""),
("md", """
## Exercise: `*44` stopped working

A colleague "tidied up" the dial plan, and now agents cannot log in. The line for `*44` was
changed. `pbx.use_dialplan` gives the PBX a new `extensions.conf` and restarts it (the
registrations survive: Kamailio writes them to its database). `pbx.agent_logs_in`
restarts phone2, which dials `*44` and keys 2772, and tells whether agent 2772 logs in.
"""),
("code", """
broken = pbx.extensions_text().replace("Dial(SIP/acdserver/acdlogin)", "Dial(SIP/acdserver/acdlogon)")
print([ln for ln in broken.splitlines() if ln.startswith("exten => *44")])
print("dial plan errors:", [d for d in pbx.use_dialplan(lab, broken) if ": warning: " not in d])
cap = acd.Capture.start(lab.node("pbx"), "star44", bpf="udp")
print("2772 logs in:", pbx.agent_logs_in(lab))
print("\\n".join(pbx.call_lines(cap.stop(), "*44")))
"""),
("md", """
The PBX accepted the file: `acdlogon` is a valid user part. It routed `*44` to the ACD as
`sip:acdlogon@…`, and the ACD has no such AOR. The capture shows the PBX challenging the
phone (407), then the call reaching the ACD and the ACD's refusal coming back through the PBX.

**Your turn:** in the next cell, set `fixed` to a dial plan (the text of an `extensions.conf`)
whose `*44` routes to the ACD's login AOR again; the teacher's edition shows a solution there.
The cell after it is graded: it gives the PBX your plan (`pbx.use_dialplan`; if the plan has
an error, the PBX keeps its old one and the check names the line) and restarts phone2, which
must log in as 2772. Fix the colleague's change, and only that: the rest of the plan still has
to route every other call.
"""),
("solution:star44-fix", """
fixed = broken                # the colleague's plan: change it
### BEGIN SOLUTION
fixed = broken.replace("acdlogon", "acdlogin")
### END SOLUTION
"""),
("check:star44-check:2", """
pbx.check_dialplan(lab, fixed)
print("2772 logs in with *44:", acd.agent_states(lab)["2772"] == "idle")
### BEGIN HIDDEN TESTS
# other angles: another phone logs in with *44, and a queued call still goes through the PBX
pbx.check_whole_plan(lab)
### END HIDDEN TESTS
"""),
("md", """
## Tear down

Always the last cell: every daemon (Kamailio and its workers, the ACD, the phones) stops by
its recorded PID, and the namespaces go.
"""),
("code", """
print(lab.down() or "lab removed")
"""),
]
