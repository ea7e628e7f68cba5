"""The ACD and labkit's phones as SIP clients of a PBX (labkit.acd.pbx_client, labkit.acd.sip.register).

The only mock is the peer: ``FakePbx``, a small registrar / proxy / presence server in Python on
127.0.0.1 that challenges with digest and checks the answers with hashlib itself (not with
the module under test), record-routes what it proxies (loose routing, ``;lr``), and can be
told to answer REGISTER with a challenge then 200, always 401, 403, 503, or nothing.  Timers
are compressed (T1 = 10 ms; the backoff unit follows, 1 s -> 20 ms).
"""
from __future__ import annotations

import asyncio
import os
import hashlib
import logging
import re

import pytest

from labkit.acd.core import ConfigError, config_from_dict
from labkit.acd.daemon import AcdDaemon
from labkit.acd.harness import AcdLab
from labkit.acd.phone import LOGIN_CODE, LOGOUT_CODE, AgentPhone, Gateway
from labkit.acd.sip.message import SipMessage, make_response, new_branch, new_tag, parse
from labkit.acd.sip.digest import DigestClient
from labkit.acd.sip.register import Backoff, Registration
from labkit.acd.sip.transaction import Timers

SCALE = 0.02
T = Timers.scaled(SCALE)
UNIT = SCALE                       # the backoff unit at this scale (1 s -> 20 ms)
REALM = "127.0.0.1"
USERS = {"acdserver": "acdsecret", "phone1": "p1secret", "phone2": "p2secret"}
CFG = {"pbx_user": "acdserver", "pbx_secret": "acdsecret", "register_expires": 60, "media": False,
       "wrapup": 0, "login_hangup_delay": 0.2, "digit_timeout": 0.3,
       "queues": [{"name": "queue1"}], "agents": [{"id": "2771", "memberof": ["queue1"]}]}
CODES = {LOGIN_CODE: "acdlogin", LOGOUT_CODE: "acdlogout"}


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def auth_fields(value: str) -> dict[str, str]:
    return {k.lower(): a or b for k, a, b in re.findall(r'(\w+)=(?:"((?:[^"\\]|\\.)*)"|([^,\s]+))', value)}


class FakePbx:
    """Registrar, proxy and presence server in one UDP socket (see the module docstring).

    ``register``: "ok" (challenge, then 200 for good credentials), "401" (always), "403",
    "503", "silent", "423" (after digest, always 423 with ``Min-Expires: min_expires``, a
    registrar that contradicts itself).  ``grant``: the expiry a 200 gives (None: what was
    asked).  ``min_expires``: shorter asks get 423 Interval Too Brief.  Requests from
    ``trusted`` addresses (a gateway) are not challenged, as in the lab's Kamailio."""

    def __init__(self, register: str = "ok", grant: int | None = None, presence: bool = True,
                 min_expires: int = 0):
        self.mode, self.grant, self.presence, self.min_expires = register, grant, presence, min_expires
        self.sock = None
        self.addr = ("127.0.0.1", 0)
        self.bindings: dict[str, str] = {}           # user -> Contact URI
        self.received: list[tuple[float, SipMessage]] = []
        self.branches: dict[str, tuple[str, int]] = {}   # our branch -> where the request came from
        self.subs: list[dict] = []
        self.trusted: set[tuple[str, int]] = set()
        self.nonce = 0
        self.down = False                            # True: answer nothing (the PBX is gone)

    async def start(self) -> "FakePbx":
        import socket
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        s.setblocking(False)
        self.sock, self.addr = s, s.getsockname()
        asyncio.get_running_loop().add_reader(s.fileno(), self._readable)
        return self

    def close(self) -> None:
        if self.sock is not None:
            asyncio.get_running_loop().remove_reader(self.sock.fileno())
            self.sock.close()
            self.sock = None

    @property
    def uri(self) -> str:
        return f"sip:{self.addr[0]}:{self.addr[1]}"

    def count(self, method: str) -> int:
        """Requests of ``method`` received, retransmissions not counted."""
        return len({m.top_via.branch for _, m in self.received if m.method == method})

    def send(self, msg: SipMessage, addr) -> None:
        self.sock.sendto(msg.encode(), addr)

    def _readable(self) -> None:
        while True:
            try:
                data, addr = self.sock.recvfrom(65535)
            except BlockingIOError:
                return
            msg = parse(data)
            if self.down:
                continue
            if msg.is_request:
                self.received.append((asyncio.get_running_loop().time(), msg))
                self.on_request(msg, addr)
            else:
                self.on_response(msg)

    # ---- digest (checked with hashlib, not with labkit.acd.sip.digest) ----------------------
    def authorized(self, req: SipMessage, header: str) -> str:
        """The user whose credentials in ``header`` are right, or ''."""
        value = req.get(header)
        if not value.startswith("Digest "):
            return ""
        f = auth_fields(value)
        user = f.get("username", "")
        if user not in USERS or f.get("realm") != REALM or f.get("uri") != req.uri:
            return ""
        ha1 = md5(f"{user}:{REALM}:{USERS[user]}")
        want = md5(f"{ha1}:{f['nonce']}:{f['nc']}:{f['cnonce']}:auth:{md5(f'{req.method}:{req.uri}')}")
        return user if f.get("response") == want else ""

    def challenge(self, req: SipMessage, addr, status: int) -> None:
        self.nonce += 1
        name = "WWW-Authenticate" if status == 401 else "Proxy-Authenticate"
        self.send(make_response(req, status, to_tag=new_tag(), extra=[
            (name, f'Digest realm="{REALM}", nonce="{self.nonce:08x}", qop="auth"')]), addr)

    # ---- requests -------------------------------------------------------------------------
    def on_request(self, req: SipMessage, addr) -> None:
        if req.method == "REGISTER":
            self.on_register(req, addr)
        elif req.to.tag or req.method == "ACK":
            self.in_dialog(req, addr)
        elif req.method == "SUBSCRIBE" and self.presence:
            if self.authorized(req, "Proxy-Authorization") or addr in self.trusted:
                self.on_subscribe(req, addr)
            else:
                self.challenge(req, addr, 407)
        elif req.method == "INVITE":
            if addr not in self.trusted and not self.authorized(req, "Proxy-Authorization"):
                self.challenge(req, addr, 407)
                return
            self.send(make_response(req, 100), addr)
            user = CODES.get(req.uri.split(":", 1)[1].split("@")[0], req.uri.split(":", 1)[1].split("@")[0])
            contact = self.bindings.get(user)
            if contact is None:
                self.send(make_response(req, 404, "Not registered", to_tag=new_tag()), addr)
                return
            self.forward(req, addr, contact, record_route=True)
        elif req.method == "CANCEL":
            pass                          # the tests here never cancel through the PBX
        else:
            self.send(make_response(req, 405, to_tag=new_tag()), addr)

    def on_register(self, req: SipMessage, addr) -> None:
        if self.mode == "silent":
            return
        if self.mode in ("403", "503"):
            self.send(make_response(req, int(self.mode), to_tag=new_tag()), addr)
            return
        if self.mode == "401" or not self.authorized(req, "Authorization"):
            self.challenge(req, addr, 401)
            return
        user = req.to.uri.user
        contact = req.contact
        asked = int(req.get("Expires") or 3600)
        if self.mode == "423" or 0 < asked < self.min_expires:
            self.send(make_response(req, 423, to_tag=new_tag(), extra=[("Min-Expires", str(self.min_expires))]), addr)
            return
        granted = min(asked, self.grant) if self.grant is not None and asked else asked
        if asked == 0:
            self.bindings.pop(user, None)
            self.send(make_response(req, 200, to_tag=new_tag()), addr)
            return
        self.bindings[user] = str(contact.uri)
        self.send(make_response(req, 200, to_tag=new_tag(), extra=[
            ("Contact", f"<{contact.uri}>;expires={granted}")]), addr)

    def forward(self, req: SipMessage, addr, target: str, record_route: bool = False) -> None:
        """Proxy ``req`` to ``target`` (a URI): our Via on top, optionally our Record-Route."""
        out = SipMessage(method=req.method, uri=target if req.method != "ACK" or not req.to.tag else req.uri,
                         body=req.body)
        out.uri = target
        branch = new_branch()
        out.headers = [("Via", f"SIP/2.0/UDP {self.addr[0]}:{self.addr[1]};branch={branch}")]
        if record_route:
            out.headers.append(("Record-Route", f"<sip:{self.addr[0]}:{self.addr[1]};lr>"))
        out.headers += [(k, v) for k, v in req.headers]
        self.branches[branch] = addr
        host, _, port = target.split("@")[-1].split(";")[0].partition(":")
        self.sock.sendto(out.encode(), (host.removeprefix("sip:"), int(port or 5060)))

    def in_dialog(self, req: SipMessage, addr) -> None:
        routes = req.get_all("Route")
        if routes and f"{self.addr[0]}:{self.addr[1]}" in routes[0]:
            rest = SipMessage(method=req.method, uri=req.uri, body=req.body,
                              headers=[(k, v) for k, v in req.headers if k != "Route"])
            for r in routes[1:]:
                rest.headers.append(("Route", r))
            self.forward(rest, addr, req.uri)
            return
        if req.method == "SUBSCRIBE":             # a refresh to the presence server itself
            sub = next((s for s in self.subs if s["call_id"] == req.call_id), None)
            if sub is None:
                self.send(make_response(req, 481), addr)
                return
            self.send(make_response(req, 200, extra=[("Expires", req.get("Expires") or "60"),
                                                     ("Contact", f"<{self.uri}>")]), addr)
            sub["refreshes"] += 1
            return
        if req.method == "ACK":
            return
        self.send(make_response(req, 200 if req.method == "NOTIFY" else 481), addr)

    def on_subscribe(self, req: SipMessage, addr) -> None:
        tag = new_tag()
        sub = {"call_id": req.call_id, "tag": tag, "to": req.from_, "from": req.to.uri,
               "target": str(req.contact.uri), "addr": addr, "version": 0, "cseq": 0, "refreshes": 0}
        self.subs.append(sub)
        self.send(make_response(req, 200, to_tag=tag, extra=[("Expires", req.get("Expires") or "60"),
                                                             ("Contact", f"<{self.uri}>")]), addr)
        self.notify(sub, b"")            # Kamailio's first NOTIFY: nothing published yet

    def notify(self, sub: dict, body: bytes, state: str = "active;expires=60") -> None:
        sub["cseq"] += 1
        n = SipMessage(method="NOTIFY", uri=sub["target"], body=body)
        n.headers = [("Via", f"SIP/2.0/UDP {self.addr[0]}:{self.addr[1]};branch={new_branch()}"),
                     ("From", f"<{sub['from']}>;tag={sub['tag']}"), ("To", str(sub["to"])),
                     ("Call-ID", sub["call_id"]), ("CSeq", f"{sub['cseq']} NOTIFY"),
                     ("Contact", f"<{self.uri}>"), ("Event", "dialog"), ("Subscription-State", state)]
        if body:
            n.headers.append(("Content-Type", "application/dialog-info+xml"))
        self.send(n, sub["addr"])

    def on_response(self, resp: SipMessage) -> None:
        vias = resp.get_all("Via")
        branch = re.search(r"branch=([^;\s]+)", vias[0]).group(1)
        back = self.branches.get(branch)
        if back is None:
            return
        out = SipMessage(status=resp.status, reason=resp.reason, body=resp.body)
        out.headers = [(k, v) for k, v in resp.headers if k != "Via"] + [("Via", v) for v in vias[1:]]
        # Via order matters: put the remaining Vias first
        out.headers = [("Via", v) for v in vias[1:]] + [(k, v) for k, v in resp.headers if k != "Via"]
        self.sock.sendto(out.encode(), back)


def dialog_info(version: int, state: str | None) -> bytes:
    dialogs = f'<dialog id="d1" call-id="x"><state>{state}</state></dialog>' if state else ""
    return (f'<?xml version="1.0"?><dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" '
            f'version="{version}" state="full" entity="sip:phone1@{REALM}">{dialogs}</dialog-info>').encode()


async def until(pred, timeout: float = 5.0) -> bool:
    """Wait for ``pred`` with a bound (the asyncio form of labkit.procs.wait_until)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end:
        if pred():
            return True
        await asyncio.sleep(0.005)
    return bool(pred())


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


async def client_and_pbx(**kw):
    """The fake PBX, and an endpoint (a labkit UA's) with the ACD's credentials for it."""
    pbx = await FakePbx(**kw).start()
    ua = await Gateway(timers=T).start()
    ua.ep.auth = DigestClient("acdserver", "acdsecret", peer=pbx.addr)
    return pbx, ua.ep


# ---- Registration against each kind of registrar -----------------------------------------
def test_challenge_then_200_registers_and_refreshes_at_half_the_grant():
    async def go():
        pbx, ep = await client_and_pbx(grant=1)
        reg = Registration(ep, "queue1", pbx.addr, ep.uri("queue1"), expires=60, backoff_unit=UNIT).start()
        assert await until(lambda: reg.registered)
        assert pbx.bindings["queue1"] == ep.uri("queue1") and reg.granted == 1 and reg.status == "ok"
        first = [m for _, m in pbx.received if m.method == "REGISTER"]
        assert [m.get("Expires") for m in first] == ["60", "60"]       # asked 60, the 200 said 1
        assert first[0].to.uri.user == "queue1" and first[0].uri == pbx.uri
        assert await until(lambda: pbx.count("REGISTER") >= 6, 3)      # refreshes, each challenged
        times = [t for t, m in pbx.received if m.method == "REGISTER" and m.get("Authorization")]
        gaps = [b - a for a, b in zip(times, times[1:])]
        assert all(0.4 <= g <= 0.9 for g in gaps), gaps                 # at half the 1 s grant
        cseqs = [m.cseq[0] for _, m in pbx.received if m.method == "REGISTER"]
        assert cseqs == sorted(set(cseqs))                              # one Call-ID, CSeq only grows
        assert len({m.call_id for _, m in pbx.received}) == 1
        await reg.stop(1.0)
        last = pbx.received[-1][1]
        assert last.get("Expires") == "0" and "queue1" not in pbx.bindings and not reg.registered
        ep.close(); pbx.close()
    run(go())


@pytest.mark.parametrize("mode,reason,cap", [
    ("401", "the PBX refused the credentials for user acdserver (401 after digest)", 60),
    ("403", "403 Forbidden", 60),
    ("503", "503 Service Unavailable", 30),
    ("silent", "no answer from 127.0.0.1:", 30),
])
def test_failures_back_off_and_never_storm(mode, reason, cap, caplog):
    """Over a window of 200 backoff units, a PBX that always refuses gets a bounded number of
    REGISTERs (1, 2, 4, 8 ... units apart, capped), and the log has one line, not one per try."""
    async def go():
        pbx, ep = await client_and_pbx(register=mode)
        caplog.set_level(logging.INFO, "labkit.acd.sip")
        reg = Registration(ep, "queue1", pbx.addr, ep.uri("queue1"), expires=60, backoff_unit=UNIT).start()
        loop = asyncio.get_running_loop()
        start = loop.time()
        await until(lambda: False, 200 * UNIT)
        window = loop.time() - start
        attempts = pbx.count("REGISTER") // (2 if mode == "401" else 1)
        # waits of 1, 2, 4 ... units capped (plus Timer F for a silent PBX): what fits the window
        assert 2 <= attempts <= schedule(window / UNIT, cap) + 1, (attempts, window)
        assert not reg.registered and reg.status.startswith(reason)
        lines = [r for r in caplog.records if "not registered" in r.getMessage()]
        assert len(lines) == 1 and reason in lines[0].getMessage()
        assert reg.backoff.delay(cap) == pytest.approx(cap * UNIT)      # the cap after many failures
        await reg.stop(0.2)
        ep.close(); pbx.close()
    run(go())


def schedule(window: float, cap: float) -> int:
    """Attempts a 1, 2, 4 ... backoff capped at ``cap`` makes within ``window`` (units)."""
    t, n, k = 0.0, 1, 0
    while True:
        t += min(cap, 2 ** k)
        k += 1
        if t > window:
            return n
        n += 1


def test_backoff_doubles_from_one_unit_up_to_its_cap():
    b = Backoff(1.0)
    assert [b.delay() for _ in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    b.reset()
    assert [b.delay(60) for _ in range(7)] == [1, 2, 4, 8, 16, 32, 60]
    assert schedule(200, 30) == 11 and schedule(200, 60) == 9 and schedule(3600, 30) == 124


def test_a_registrar_that_comes_back_is_registered_with_again():
    async def go():
        pbx, ep = await client_and_pbx(register="503")
        reg = Registration(ep, "queue1", pbx.addr, ep.uri("queue1"), expires=60, backoff_unit=UNIT).start()
        assert await until(lambda: reg.reason.startswith("503"))
        pbx.mode = "ok"
        assert await until(lambda: reg.registered, 3)
        assert reg.backoff.failures == 0
        await reg.stop(0.5)
        ep.close(); pbx.close()
    run(go())


class Clock:
    """The endpoint as a Registration sees it, with the waits it schedules recorded instead of
    waited: the test starts each next attempt itself (``next()``), so a schedule of minutes runs
    in milliseconds against the real fake PBX, and the waits are exact numbers."""

    def __init__(self, ep):
        self._ep, self.waits, self._due, self._handles = ep, [], None, []

    def __getattr__(self, name):
        return getattr(self._ep, name)

    def call_later(self, delay, fn, *args):
        self.waits.append(delay)
        self._due = (fn, args)
        handle = asyncio.get_running_loop().call_later(3600, lambda: None)   # for abandon() to cancel
        self._handles.append(handle)
        return handle

    async def next(self) -> float:
        """Start the attempt that is due now; the wait scheduled after it."""
        (fn, args), n = self._due, len(self.waits)
        self._due = None
        fn(*args)
        assert await until(lambda: len(self.waits) > n), "no next attempt scheduled"
        return self.waits[-1]

    def close(self) -> None:
        for h in self._handles:
            h.cancel()


async def clocked(pbx: FakePbx, ep, expires: int = 60, unit: float = 1.0) -> tuple[Clock, Registration]:
    """A Registration of queue1 (backoff ``unit``; 1: the waits read in seconds), started, its
    first wait scheduled."""
    clock = Clock(ep)
    reg = Registration(clock, "queue1", pbx.addr, ep.uri("queue1"), expires=expires, backoff_unit=unit).start()
    assert await until(lambda: clock.waits), "nothing scheduled after the first attempt"
    return clock, reg


def authorized_expires(pbx: FakePbx) -> list[str]:
    return [m.get("Expires") for _, m in pbx.received if m.method == "REGISTER" and m.get("Authorization")]


@pytest.mark.parametrize("mode,reason,waits,refused", [
    ("401", "the PBX refused the credentials for user acdserver (401 after digest)",
     [1, 2, 4, 8, 16, 32, 60, 60, 60], True),
    ("403", "403 Forbidden", [1, 2, 4, 8, 16, 32, 60, 60, 60], True),
    ("503", "503 Service Unavailable", [1, 2, 4, 8, 16, 30, 30, 30, 30], False),
])
def test_the_waits_between_failed_registers_double_up_to_their_cap(mode, reason, waits, refused):
    """Refused credentials (401 after digest, 403) wait up to 60 units, any other failure up to 30
    units; the cap scales with the unit (here 1/4 s) as the first wait does."""
    async def go():
        pbx, ep = await client_and_pbx(register=mode)
        clock, reg = await clocked(pbx, ep, unit=0.25)
        got = [clock.waits[0]] + [await clock.next() for _ in waits[1:]]
        assert got == [w * 0.25 for w in waits] and reg.status == reason and not reg.registered
        assert reg.refused == (len(waits) if refused else 0)
        assert pbx.count("REGISTER") == len(waits) * (2 if mode == "401" else 1)    # one per wait, no storm
        reg.abandon(); clock.close(); ep.close(); pbx.close()
    run(go())


def test_a_success_refreshes_at_half_the_grant_and_starts_the_backoff_again():
    async def go():
        pbx, ep = await client_and_pbx(register="503", grant=40)
        clock, reg = await clocked(pbx, ep)
        assert await clock.next() == 2
        pbx.mode = "ok"
        assert await clock.next() == 20 and reg.registered and reg.granted == 40      # refresh at 40 / 2
        assert await clock.next() == 20                                              # and again
        pbx.mode = "503"
        assert await clock.next() == 1 and not reg.registered                         # backoff from 1 again
        assert await clock.next() == 2
        reg.abandon(); clock.close(); ep.close(); pbx.close()
    run(go())


def test_423_is_answered_once_with_the_registrars_minimum():
    async def go():
        pbx, ep = await client_and_pbx(min_expires=120)
        clock, reg = await clocked(pbx, ep, expires=60)
        assert reg.registered and clock.waits == [60] and reg.expires == 120
        assert authorized_expires(pbx) == ["60", "120"]
        assert await clock.next() == 60 and authorized_expires(pbx)[-1] == "120"    # refreshes ask 120
        reg.abandon(); clock.close(); ep.close(); pbx.close()
    run(go())


def test_a_423_asking_for_what_was_asked_is_a_failure_not_a_loop():
    """A registrar whose Min-Expires is not above what we asked contradicts itself: asking again
    with the same value would loop, so it is a failure with the usual backoff."""
    async def go():
        pbx, ep = await client_and_pbx(register="423", min_expires=60)
        clock, reg = await clocked(pbx, ep, expires=60)
        assert clock.waits == [1] and reg.status.startswith("423 ") and authorized_expires(pbx) == ["60"]
        assert await clock.next() == 2 and authorized_expires(pbx) == ["60", "60"]
        reg.abandon(); clock.close(); ep.close(); pbx.close()
    run(go())


# ---- the ACD in PBX mode -------------------------------------------------------------------
def test_pbx_mode_needs_a_secret_and_bounded_settings():
    with pytest.raises(ConfigError, match=r"pbx_secret is empty.*127.0.0.1:5060.*'acdserver'"):
        AcdDaemon({**CFG, "pbx_secret": ""}, pbx=("127.0.0.1", 5060)).load()
    assert AcdDaemon({**CFG, "pbx_secret": ""}).load().pbx_secret == ""      # direct mode: unused
    for key, value in [("register_expires", 9), ("register_expires", 86401), ("register_expires", "300"),
                       ("register_expires", True), ("pbx_user", ""), ("pbx_user", "a b"), ("pbx_secret", 5)]:
        with pytest.raises(ConfigError, match=f"^x.yaml: {key} must "):
            config_from_dict({**CFG, key: value}, "x.yaml")
    cfg = config_from_dict({**CFG, "register_expires": 10}, "x.yaml")
    assert (cfg.pbx_user, cfg.register_expires) == ("acdserver", 10)
    d = AcdDaemon("acd.yaml", pbx=("10.9.1.1", 5060))
    assert d.argv()[-2:] == ["--pbx", "10.9.1.1:5060"]


def test_acd_registers_every_aor_and_shows_it_in_rest():
    async def go():
        pbx = await FakePbx(grant=30).start()
        async with AcdLab(CFG, timers=T, pbx=pbx.addr) as lab:
            aors = {"acdserver", "queue1", "acdlogin", "acdlogout"}
            assert await until(lambda: set(pbx.bindings) == aors)
            host, port = lab.sip
            assert pbx.bindings["queue1"] == f"sip:queue1@{host}:{port}"
            st, _, doc = await lab.http("GET", "/queues")
            assert doc["queues"] == [{"name": "queue1", "calls": [], "registered": True, "registration": "ok"}]
            _, _, stats = await lab.http("GET", "/stats")
            p = stats["pbx"]
            assert p["address"] == f"{pbx.addr[0]}:{pbx.addr[1]}" and p["aors_registered"] == p["aors_total"] == 4
            assert p["registers_sent"] == 8 and p["auth_failures"] == 0      # each challenged once
            # a queue added through REST is registered, a deleted one un-registered
            st, _, _ = await lab.http("POST", "/queues", {"name": "q9"})
            assert st == 201 and await until(lambda: "q9" in pbx.bindings)
            st, _, _ = await lab.http("DELETE", "/queues/q9")
            assert st == 200 and await until(lambda: "q9" not in pbx.bindings)
        assert await until(lambda: not pbx.bindings)           # shutdown un-REGISTERs all
        pbx.close()
    run(go())


def test_acd_with_refused_credentials_shows_why_per_queue():
    async def go():
        pbx = await FakePbx(register="401").start()
        async with AcdLab({**CFG, "pbx_secret": "wrong"}, timers=T, pbx=pbx.addr) as lab:
            assert await until(lambda: lab.acd.registrations["queue1"].reason != "not registered yet")
            _, _, doc = await lab.http("GET", "/queues")
            q = doc["queues"][0]
            assert q["registered"] is False
            assert q["registration"] == "the PBX refused the credentials for user acdserver (401 after digest)"
            _, _, stats = await lab.http("GET", "/stats")
            assert stats["pbx"]["aors_registered"] == 0 and stats["pbx"]["auth_failures"] >= 4
        pbx.close()
    run(go())


async def pbx_lab(pbx: FakePbx, login: bool = False):
    """The ACD in PBX mode, and a phone registered as phone1 at the fake PBX (logged in as
    agent 2771 through it, idle, with ``login``)."""
    lab = AcdLab(CFG, timers=T, pbx=pbx.addr)
    await lab.__aenter__()
    assert await until(lambda: {"queue1", "acdlogin", "acdlogout"} <= set(pbx.bindings))
    phone = await AgentPhone("phone1", timers=T, pbx=pbx.addr, secret=USERS["phone1"]).start()
    lab.phones.append(phone)
    reg = phone.register(60)
    assert await until(lambda: reg.registered)
    if login:
        assert await phone.login(pbx.addr, "2771", login_user=LOGIN_CODE)
        assert await until(lambda: lab.acd.agents["2771"].state == "idle")
    return lab, phone


def test_agent_logs_in_through_the_pbx_and_is_subscribed_there():
    async def go():
        pbx = await FakePbx().start()
        lab, phone = await pbx_lab(pbx)
        assert pbx.bindings["phone1"] == phone.contact
        assert await phone.login(pbx.addr, "2771", login_user=LOGIN_CODE)
        agent = lab.acd.agents["2771"]
        assert await until(lambda: agent.state == "idle")         # the empty first NOTIFY is idle
        assert agent.device == f"sip:phone1@{pbx.addr[0]}:{pbx.addr[1]}"
        [sub] = pbx.subs
        sub_req = next(m for _, m in pbx.received if m.method == "SUBSCRIBE" and m.get("Proxy-Authorization"))
        assert sub_req.uri == agent.device and sub_req.get("Event") == "dialog"
        assert auth_fields(sub_req.get("Proxy-Authorization"))["username"] == "acdserver"
        _, _, doc = await lab.http("GET", "/agents")
        assert doc["agents"][0]["subscription"] == "active" and doc["agents"][0]["state"] == "idle"
        # RFC 4235 bodies from the PBX: confirmed and early are busy; terminated or none is idle
        pbx.notify(sub, dialog_info(1, "confirmed"))
        assert await until(lambda: agent.state == "busy")
        pbx.notify(sub, dialog_info(2, "terminated"))
        assert await until(lambda: agent.state == "idle")
        pbx.notify(sub, dialog_info(3, "early"))
        assert await until(lambda: agent.state == "busy")
        pbx.notify(sub, dialog_info(4, None))
        assert await until(lambda: agent.state == "idle")
        # the login call went through the PBX both ways: INFO digits on the record-routed path
        infos = [m for _, m in pbx.received if m.method == "INFO"]
        assert len(infos) == 4 and all(m.get("Route") for m in infos)
        await phone.logout(pbx.addr, logout_user=LOGOUT_CODE)
        assert await until(lambda: agent.state == "loggedout")
        await lab.close(); pbx.close()
    run(go())


def test_a_queued_call_reaches_the_agent_through_the_pbx_record_routed():
    async def go():
        pbx = await FakePbx().start()
        lab, phone = await pbx_lab(pbx, login=True)
        agent = lab.acd.agents["2771"]
        gw = await Gateway(timers=T, pbx=pbx.addr).start()
        lab.gateways.append(gw)
        pbx.trusted.add((gw.ep.host, gw.ep.port))               # the gateway is not challenged
        out = await gw.call(pbx.addr, "queue1", hold=1.0)
        assert out["status"] == 200 and out["connected"] and out["ended_by"] == "caller"
        offers = [m for _, m in pbx.received if m.method == "INVITE" and m.uri == agent.device]
        assert len(offers) == 2 and not offers[0].get("Proxy-Authorization")    # 407, then again
        assert offers[1].cseq[0] == offers[0].cseq[0] + 1 and offers[1].call_id == offers[0].call_id
        assert phone.acd_calls and phone.acd_calls[-1].dialog.route_set     # the phone saw the RR
        # everything in the agent's dialog after the 200 came through the PBX (loose routing)
        cid = offers[0].call_id

        def later():       # the 2xx's ACK and the BYE (the 407's ACK belongs to its transaction)
            return [m for _, m in pbx.received if m.call_id == cid and
                    (m.method == "BYE" or (m.method == "ACK" and m.cseq[0] == offers[1].cseq[0]))]
        assert await until(lambda: {m.method for m in later()} == {"ACK", "BYE"})
        assert all(m.get("Route") == f"<sip:{pbx.addr[0]}:{pbx.addr[1]};lr>" for m in later())
        assert all(m.uri == phone.contact for m in later())           # Request-URI: the phone's Contact
        assert await until(lambda: agent.state == "idle" and not lab.acd.calls)
        await lab.close(); pbx.close()
    run(go())


def test_subscription_through_a_vanished_pbx_is_retried_not_logged_out(caplog):
    async def go():
        caplog.set_level(logging.INFO, "labkit.acd")
        pbx = await FakePbx().start()
        lab, phone = await pbx_lab(pbx, login=True)
        agent = lab.acd.agents["2771"]
        [sub] = pbx.subs
        pbx.notify(sub, b"", "terminated;reason=deactivated")          # the PBX ends it...
        assert await until(lambda: agent.subscription.startswith("terminated by the PBX (deactivated)"))
        assert agent.state in ("pending", "idle")
        assert await until(lambda: len(pbx.subs) == 2 and agent.subscription == "active")   # ...and again
        pbx.down = True                                                  # the PBX vanishes
        lab.acd._refresh(agent.sub)
        assert await until(lambda: agent.subscription.startswith("refresh failed: no answer"), 10)
        assert agent.state == "pending" and agent.device
        _, _, doc = await lab.http("GET", "/agents")
        assert doc["agents"][0]["subscription"].startswith("refresh failed")
        sent = pbx.count("SUBSCRIBE")
        pbx.down = False                                                 # it comes back
        assert await until(lambda: agent.subscription == "active" and agent.state == "idle", 10)
        assert pbx.count("SUBSCRIBE") > sent and agent.state != "loggedout"
        lines = [r.getMessage() for r in caplog.records if "subscription to" in r.getMessage()]
        assert len(lines) == 4, lines       # failed, active again, failed, active again: per change
        assert "active again" in lines[-1]
        assert lab.acd.logouts == {}
        await lab.close(); pbx.close()
    run(go())


# ---- the lab services' PBX parameters ------------------------------------------------------
def test_sipphone_service_through_a_pbx(tmp_path):
    from types import SimpleNamespace

    from labkit.acd.service import AcdService, PhoneService
    from labkit.lab.errors import ServiceError
    from labkit.lab.model import ServiceSpec

    node = SimpleNamespace(name="phone1", run_dir=tmp_path, addresses=lambda: ["192.168.2.101"])

    def service(cls, **params):
        svc = cls(node, ServiceSpec(cls.kind, cls.kind, params, "lab.yaml:9"))
        svc.address = lambda: "192.168.2.101"
        svc.spawned = []
        svc.spawn = lambda argv, env=None: svc.spawned.append(argv)
        return svc

    with pytest.raises(ServiceError, match="ADDR:PORT of the ACD, or give pbx"):
        service(PhoneService, agent="2771").check()
    with pytest.raises(ServiceError, match="pbx is set but secret is not"):
        service(PhoneService, pbx="192.168.2.5:5060").check()
    svc = service(PhoneService, pbx="192.168.2.5:5060", secret="p1secret", agent="2771")
    svc.check()
    svc.render()
    svc.start()
    [argv] = svc.spawned
    assert argv[argv.index("--pbx") + 1] == "192.168.2.5:5060" and argv[argv.index("--user") + 1] == "phone1"
    secret = argv[argv.index("--secret-file") + 1]
    assert "p1secret" not in argv and open(secret).read().strip() == "p1secret"
    assert (os.stat(secret).st_mode & 0o777) == 0o600 and "--acd" not in argv
    direct = service(PhoneService, acd="192.168.2.10:5060")
    direct.check()
    direct.start()
    assert "--pbx" not in direct.spawned[0] and "--acd" in direct.spawned[0]
    acd = service(AcdService, config=tmp_path / "acd.yaml", pbx="192.168.2.5:5060")
    (tmp_path / "acd.yaml").write_text("queues: [q1]\n")
    with pytest.raises(ServiceError, match="pbx_secret is empty"):
        acd.check()
    (tmp_path / "acd.yaml").write_text("pbx_secret: s\nqueues: [q1]\n")
    acd.check()
    acd.start()
    assert acd.spawned[0][-2:] == ["--pbx", "192.168.2.5:5060"]
