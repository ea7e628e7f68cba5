"""A seeded fuzzer for the ACD's two doors: SIP datagrams on UDP and HTTP requests on TCP.

Every generated input is malformed (or misused) in one known way, so the fuzzer knows what
the answer must be (the one exception: the real INVITE that a merged or forked copy follows,
which must be answered 200):

- a SIP request whose Via, From, To, Call-ID and CSeq still survive can be answered, and must
  get a 4xx (or the 501 RFC 3261 gives a method it does not know): bad numbers (``Content-Length: ²``, 5,000 digits), two different singleton
  headers, broken URIs, a CSeq of another method, a body shorter than its length, bytes that
  are not UTF-8, huge headers and bodies with one of those faults, bad SDP (488), requests
  outside any dialog (481), unknown users (404) and methods (405/489), and merged or forked
  INVITEs: the same INVITE again under a new branch, or another dialog under a live Call-ID
  (482);
- what cannot be answered (garbage, truncations, datagrams that lost a mandatory header,
  stray responses and ACKs) must simply not hurt;
- every HTTP request, however broken, gets a JSON error ``{"error": ..., "status": N}`` with
  a 4xx status that matches its status line.

The fuzzer runs in rounds against a real ACD daemon (``python -m labkit.acd.serve``, media
on, SIP timers compressed so RFC 3261's 32 s become 0.64 s): after each round it waits for
the ACD's timers to run out and records its resident memory, and checks that ``GET /queues``
holds no call of the fuzzer's (a merged INVITE used to leave a ghost, its music playing).
``python -m labkit.acd.fuzz --rounds 10`` prints the summary as JSON and a verdict, and exits 1
if anything went wrong; tests/test_acd_fuzz.py runs it in the suite.
"""
from __future__ import annotations

import argparse
import http.client
import json
import random
import re
import select
import socket
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from labkit import procs
from labkit.digits import count_arg

from .daemon import AcdDaemon
from .sip import sdp

#: The ACD the fuzzer starts: one queue, one agent nobody logs in as (calls just wait).
CONFIG = {"queues": [{"name": "queue1"}], "agents": [{"id": "2771", "memberof": ["queue1"]}],
          "login_hangup_delay": 0.05, "ring_timeout": 1}
TIMER_SCALE = 0.02
BAD_NUMBERS = ["\u00b2", "\u0661\u0662", "9" * 5000, "-1", "1e3", "0x10", "", "12 34", "+5",
               "\u0663", "99999999999999999999", "\uff15"]


@dataclass
class Case:
    """One input: its bytes, the class of answer it must get ("4xx", a status, or None for
    'anything or nothing'), and a token that appears in any answer to it (its branch)."""
    kind: str
    data: bytes
    expect: str | int | None
    token: str = ""


@dataclass
class SipContext:
    me: tuple[str, int]
    acd: tuple[str, int]
    rng: random.Random = field(default_factory=random.Random)
    n: int = 0
    live: list[tuple[str, str, int]] = field(default_factory=list)   # (Call-ID, tag, CSeq)


def _sip(ctx: SipContext, method: str, user: str = "queue1", *, to_tag: str = "",
         cseq_method: str | None = None, headers: list[str] | None = None, body: bytes = b"",
         length: str | None = None, call_id: str = "", from_tag: str = "", cseq: int = 1,
         ctype: str = "application/sdp") -> tuple[bytes, str]:
    """A request that is well formed unless the caller says otherwise; (bytes, token)."""
    ctx.n += 1
    tok = f"fz{ctx.n}x{ctx.rng.getrandbits(24):06x}"
    host, port = ctx.acd
    lines = [f"{method} sip:{user}@{host}:{port} SIP/2.0",
             f"Via: SIP/2.0/UDP {ctx.me[0]}:{ctx.me[1]};branch=z9hG4bK{tok}",
             f"From: <sip:fuzz@{ctx.me[0]}>;tag={from_tag or 'f' + tok}",
             f"To: <sip:{user}@{host}>" + (f";tag={to_tag}" if to_tag else ""),
             f"Call-ID: {call_id or tok}@fuzz", f"CSeq: {cseq} {cseq_method or method}",
             f"Contact: <sip:fuzz@{ctx.me[0]}:{ctx.me[1]}>", "Max-Forwards: 70"]
    lines += headers or []
    if body:
        lines.append(f"Content-Type: {ctype}")
    lines.append(f"Content-Length: {len(body) if length is None else length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogatepass") + body, tok


def _offer(ctx: SipContext) -> bytes:
    return sdp.build(ctx.me[0], 40000)


# ---- SIP generators: (rng, ctx) -> list[Case] ---------------------------------------------
def g_number(rng, ctx):
    bad = rng.choice(BAD_NUMBERS)
    where = rng.choice(["length", "cseq", "max-forwards", "expires", "contact-port", "via-port"])
    if where == "length":
        data, tok = _sip(ctx, "OPTIONS", length=bad)
    elif where == "cseq":
        data, tok = _sip(ctx, "OPTIONS")
        data = data.replace(b"CSeq: 1 ", f"CSeq: {bad} ".encode(), 1) if bad.strip() else data.replace(b"CSeq: 1 ", b"CSeq: x ", 1)
    elif where == "max-forwards":
        data, tok = _sip(ctx, "OPTIONS")
        data = data.replace(b"Max-Forwards: 70", f"Max-Forwards: {bad or 'x'}".encode(), 1)
    elif where == "expires":
        data, tok = _sip(ctx, "OPTIONS", headers=[f"Expires: {bad or 'x'}"])
    elif where == "contact-port":
        data, tok = _sip(ctx, "OPTIONS")
        data = data.replace(f":{ctx.me[1]}>".encode(), f":{bad or 'x'}>".encode(), 1)
    else:   # a port in a second Via: the top one still routes the answer
        data, tok = _sip(ctx, "OPTIONS", headers=[f"Via: SIP/2.0/UDP h:{bad or 'x'};branch=z9hG4bKv"])
    return [Case("number:" + where, data, "4xx", tok)]


def g_duplicate(rng, ctx):
    name = rng.choice(["From", "To", "Call-ID", "CSeq", "Content-Length", "Content-Type",
                       "Expires", "Max-Forwards"])
    value = {"From": "<sip:other@h>;tag=zz", "To": "<sip:other@h>", "Call-ID": "another@h",
             "CSeq": "99 OPTIONS", "Content-Length": "7", "Content-Type": "text/plain",
             "Expires": "5", "Max-Forwards": "3"}[name]
    headers = [f"{name}: {value}"]
    if name == "Expires":
        headers.append("Expires: 6")
    if name == "Content-Type":
        headers.append("Content-Type: text/html")
    data, tok = _sip(ctx, "OPTIONS", headers=headers)
    return [Case("duplicate:" + name, data, "4xx", tok)]


def g_uri(rng, ctx):
    header = rng.choice(["From", "To", "Contact"])
    broken = rng.choice(["<sop:x@h>", "<sip:>", "<sip:a@>", "<sip:a@h:0>", "<sip:a@h:99999>",
                         "<sip:a@[::1>", "<sip:a@h:\u00b2>", "<sip:a@h", "<>", "sip:a@h:x;tag=1"])
    data, tok = _sip(ctx, "OPTIONS")
    data = re.sub(rb"(?m)^" + header.encode() + rb": <[^>]*>", f"{header}: {broken}".encode(), data, count=1)
    return [Case("uri:" + header, data, "4xx", tok)]


def g_cseq_method(rng, ctx):
    data, tok = _sip(ctx, "OPTIONS", cseq_method=rng.choice(["BYE", "INVITE", "ACKX", "options"]))
    return [Case("cseq-method", data, "4xx", tok)]


def g_short_body(rng, ctx):
    body = _offer(ctx)
    data, tok = _sip(ctx, "INVITE", body=body, length=str(len(body) + rng.randint(1, 5000)))
    return [Case("short-body", data, "4xx", tok)]


def g_not_utf8(rng, ctx):
    data, tok = _sip(ctx, "OPTIONS", headers=["X-Junk: @@"])
    never = [0x80, 0xBF, 0xC0, 0xC1, 0xF5, 0xFE, 0xFF]      # bytes no UTF-8 text holds here
    junk = bytes([rng.choice(never)]) + bytes(rng.randrange(128, 256) for _ in range(3))
    return [Case("not-utf8", data.replace(b"@@", junk), "4xx", tok)]


def g_huge(rng, ctx):
    size = rng.randint(8_000, 60_000)
    if rng.random() < 0.5:     # a huge header, and a Content-Length that lies
        data, tok = _sip(ctx, "OPTIONS", headers=["X-Pad: " + "A" * size], length="5")
    else:                      # a huge SDP without PCMU
        lines = "".join(f"m=audio {4000 + 2 * i} RTP/AVP 8\r\n" for i in range(size // 24))
        body = f"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 {ctx.me[0]}\r\nt=0 0\r\n{lines}".encode()
        data, tok = _sip(ctx, "INVITE", body=body)
    return [Case("huge", data[:65_000], "4xx", tok)]


def g_bad_sdp(rng, ctx):
    body = rng.choice([
        b"v=0\r\n", b"garbage", b"v=0\r\nc=IN IP4 127.0.0.9\r\nm=audio 4000 RTP/AVP 8\r\n",
        b"v=0\r\nm=audio 4000 RTP/AVP 0\r\n", b"v=0\r\nc=IN IP4 h\r\nm=audio x RTP/AVP 0\r\n",
        b"v=0\r\nc=IN IP4 h\r\nm=audio \xd9\xa1 RTP/AVP 0\r\n", b"v=0\r\nc=IN IP4 h\r\nm=video 4000 RTP/AVP 0\r\n",
        b"v=0\r\nc=IN IP4 h\r\nm=audio 0 RTP/AVP 0\r\n", b"v=0\r\nc=IN IP4 h\r\nm=audio 4000 RTP/SAVP 0\r\n",
        b"v=0\r\nc=IN IP4 localhost\r\nm=audio 4000 RTP/AVP 0\r\n",     # a name: never resolved
        b"\x00" * 40])
    data, tok = _sip(ctx, "INVITE", body=body)
    return [Case("bad-sdp", data, "4xx", tok)]


def g_out_of_dialog(rng, ctx):
    method = rng.choice(["BYE", "INFO", "NOTIFY", "INVITE"])
    headers = ["Event: dialog", "Subscription-State: active"] if method == "NOTIFY" else []
    body = _offer(ctx) if method == "INVITE" else b""
    data, tok = _sip(ctx, method, user="acd", to_tag=f"t{rng.getrandbits(32):x}", headers=headers,
                     body=body)
    return [Case("no-dialog:" + method, data, 481, tok)]


def g_unknown(rng, ctx):
    kind = rng.choice(["user", "method", "subscribe"])
    if kind == "user":
        data, tok = _sip(ctx, "INVITE", user=rng.choice(["nobody", "9999", "queue", "x" * 300]),
                         body=_offer(ctx))
        return [Case("unknown-user", data, 404, tok)]
    if kind == "subscribe":
        data, tok = _sip(ctx, "SUBSCRIBE", headers=["Event: dialog"])
        return [Case("subscribe", data, 489, tok)]
    if rng.random() < 0.2:     # a method nobody here knows: 501 (RFC 3261 21.5.2), not a 4xx
        data, tok = _sip(ctx, rng.choice(["FOO", "XYZZY", "INVITEX"]))
        return [Case("unknown-method", data, 501, tok)]
    data, tok = _sip(ctx, rng.choice(["MESSAGE", "REFER", "PUBLISH", "UPDATE", "REGISTER", "PRACK"]))
    return [Case("unsupported-method", data, 405, tok)]


def g_merged(rng, ctx):
    """A real INVITE (answered 200, never ACKed: the ACD ends it after 64*T1), then the same
    INVITE under a new branch (merged) or another dialog under its Call-ID (forked)."""
    cid = f"m{ctx.n}x{rng.getrandbits(32):x}"
    tag = f"t{rng.getrandbits(32):x}"
    first, tok1 = _sip(ctx, "INVITE", body=_offer(ctx), call_id=cid, from_tag=tag)
    if rng.random() < 0.5:
        again, tok2 = _sip(ctx, "INVITE", body=_offer(ctx), call_id=cid, from_tag=tag)
        kind = "merged"
    else:
        again, tok2 = _sip(ctx, "INVITE", body=_offer(ctx), call_id=cid, from_tag=tag + "x",
                           cseq=rng.randint(2, 90))
        kind = "forked"
    return [Case("valid-invite", first, 200, tok1), Case(kind, again, 482, tok2)]


def g_extension(rng, ctx):
    """A request that needs what the ACD lacks: an extension (420), a body that is not SDP
    (415), an INVITE without Contact (400)."""
    kind = rng.randrange(3)
    if kind == 0:
        data, tok = _sip(ctx, "OPTIONS", headers=[f"Require: {rng.choice(['100rel', 'timer', 'foo-ext'])}"])
        return [Case("require", data, 420, tok)]
    if kind == 1:
        data, tok = _sip(ctx, "INVITE", body=_offer(ctx), ctype=rng.choice(["multipart/mixed", "text/plain"]))
        return [Case("not-sdp", data, 415, tok)]
    data, tok = _sip(ctx, "INVITE", body=_offer(ctx))
    return [Case("no-contact", re.sub(rb"Contact: [^\r]*\r\n", b"", data, count=1), 400, tok)]


def g_unanswerable(rng, ctx):
    data, tok = _sip(ctx, rng.choice(["OPTIONS", "INVITE", "BYE"]), body=_offer(ctx))
    kind = rng.randrange(6)
    if kind == 0:
        data = rng.randbytes(rng.randint(1, 1400))
    elif kind == 1:
        data = data[:rng.randrange(len(data))]
    elif kind == 2:
        name = rng.choice([b"Via", b"From", b"To", b"Call-ID", b"CSeq"])
        data = re.sub(rb"(?m)^" + name + rb":[^\r]*\r\n", b"", data, count=1)
    elif kind == 3:
        data = data.replace(b"OPTIONS sip", b"SIP/2.0 200 OK\r\nX: sip", 1)   # a stray "response"
    elif kind == 4:
        data = rng.choice([b"\r\n\r\n", b"\r\n", b"", b" "])                 # keep-alives
    else:
        data = data.replace(b"INVITE", b"ACK", 2)                             # a stray ACK
    return [Case("unanswerable", data, None, tok)]


SIP_GENERATORS = [g_number, g_duplicate, g_uri, g_cseq_method, g_short_body, g_not_utf8,
                  g_huge, g_bad_sdp, g_out_of_dialog, g_unknown, g_extension, g_merged, g_unanswerable]


# ---- HTTP generators: rng -> bytes (every one must get a JSON 4xx) ------------------------
def _req(method: str, path: str, body: bytes = b"", ctype: str = "application/json",
         extra: str = "", length: str | None = None) -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: acd\r\n"
    if ctype:
        head += f"Content-Type: {ctype}\r\n"
    head += f"Content-Length: {len(body) if length is None else length}\r\n{extra}\r\n"
    return head.encode("utf-8", "surrogatepass") + body


BAD_JSON = [b"{", b"{\"name\":}", b"[1,2", b"nul", b"{\"name\": NaN}", b"{\"name\": Infinity}",
            b"\"\\ud800\"", b"{\"a\":1,}", b"[" * 5000 + b"]" * 5000, b"\xff\xfe{}", b"{} {}"]
BAD_VALUES = [b'{"name": "qz", "service_level": 1e999}', b'{"name": "qz", "ring_timeout": -1}',
              b'{"name": ""}', b'{"name": "a b"}', b'{"name": 7}', b'{"name": "qz", "strategy": 1}',
              b'{"id": "x"}', b'{"id": "\\u00b2"}', b'{"id": "1", "memberof": "queue1"}',
              b'{"id": "1", "memberof": ["nope"]}', b'[]', b'"text"', b'{"name": "qz", "x": 1}',
              b'{"name": "qz", "service_level": 1e308}', b'{"memberof": [1e999]}']


def http_case(rng) -> bytes:
    kind = rng.randrange(9)
    path = rng.choice(["/queues", "/agents", "/agents/2771", "/calls/x/transfer", "/queues/queue1"])
    method = {"/queues": "POST", "/agents": "POST", "/agents/2771": "PATCH",
              "/calls/x/transfer": "POST", "/queues/queue1": "DELETE"}[path]
    if kind == 0:      # a broken request line
        return rng.choice([b"GARBAGE\r\n\r\n", b"get /queues HTTP/1.1\r\n\r\n",
                           b"GET queues HTTP/1.1\r\n\r\n", b"GET /queues HTTP/2.0\r\n\r\n",
                           "G\u00c9T /queues HTTP/1.1\r\n\r\n".encode(), b"GET  /queues HTTP/1.1\r\n\r\n",
                           b"GET /queues\r\n\r\n", rng.randbytes(rng.randint(1, 300)) + b"\r\n\r\n"])
    if kind == 1:      # a broken header
        return rng.choice([b"GET /queues HTTP/1.1\r\nNo colon\r\n\r\n",
                           b"GET /queues HTTP/1.1\r\n Space: x\r\n\r\n",
                           b"GET /queues HTTP/1.1\r\nBad : x\r\n\r\n"]) \
            if rng.random() < 0.7 else b"GET /nope HTTP/1.1\r\n\r\n"
    if kind == 2:      # a length that parses badly, or two of them, or chunked
        extra = rng.choice(["", "Content-Length: 3\r\n", "Transfer-Encoding: chunked\r\n"])
        return _req(method, path, b"{}", extra=extra,
                    length=rng.choice(BAD_NUMBERS) if not extra else None)
    if kind == 3:      # the body ends before its length
        body = rng.choice(BAD_VALUES)
        return _req(method, path, body[:rng.randrange(len(body))], length=str(len(body)))
    if kind == 4:      # a head over 16 KB, a body over 64 KB
        if rng.random() < 0.5:
            return _req("GET", "/queues", extra="X-Pad: " + "A" * rng.randint(17_000, 40_000) + "\r\n")
        return _req(method, path, length=str(rng.randint(65_537, 10**12)))
    if kind == 5:      # not JSON
        return _req(method, path, rng.choice(BAD_JSON))
    if kind == 6:      # JSON that is not what the route takes
        return _req(method if path != "/queues/queue1" else "POST", path if path != "/queues/queue1" else "/queues",
                    rng.choice(BAD_VALUES))
    if kind == 7:      # the wrong content type
        return _req(method, path, b"{}", ctype=rng.choice(["text/plain", "", "application/xml"]))
    return rng.choice([_req("PUT", "/queues"), _req("GET", "/nope/x"), _req("DELETE", "/agents"),
                       _req("GET", "/queues/" + "%ff" * 10), _req("POST", "/stats", b"{}")])


# ---- the run --------------------------------------------------------------------------------
def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _rest(port: int, method: str, path: str) -> dict:
    """The JSON of a REST answer; an error answer (or none) is ``{"error": ...}``."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path)
        r = conn.getresponse()
        doc = json.loads(r.read())
        return doc if r.status == 200 else {"error": doc}
    except (OSError, ValueError, http.client.HTTPException) as exc:
        return {"error": repr(exc)}
    finally:
        conn.close()


def _quiet(port: int) -> bool:
    leaks = _rest(port, "GET", "/stats").get("leaks")
    return leaks is not None and not any(leaks.values())


def send_http(port: int, data: bytes) -> tuple[int, dict | None]:
    """One request on its own connection, the write side closed after it; (status, JSON)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            b = s.recv(65536)
            if not b:
                break
            chunks.append(b)
    raw = b"".join(chunks)
    head, _, body = raw.partition(b"\r\n\r\n")
    try:
        status = int(head.split(b" ", 2)[1])
        return status, json.loads(body)
    except (IndexError, ValueError):
        return 0, None


def sip_round(rng: random.Random, ctx: SipContext, sock: socket.socket, count: int,
              batch: int = 50) -> dict:
    """Send ``count`` datagrams in batches; wait (bounded) for the answers each must get."""
    out = {"sent": 0, "answerable": 0, "answered": 0, "wrong": [], "missing": []}
    pending: list[Case] = []
    while out["sent"] < count:
        cases: list[Case] = []
        while len(cases) < batch:
            cases += rng.choice(SIP_GENERATORS)(rng, ctx)
        for c in cases:
            try:
                sock.sendto(c.data, ctx.acd)
            except OSError:            # e.g. EMSGSIZE for a datagram over 64 KB: never sent
                continue
            out["sent"] += 1
            if c.expect is not None:
                pending.append(c)
        _collect(sock, pending, out, wait=2.0)
    _collect(sock, pending, out, wait=5.0)
    out["missing"] = [(c.kind, c.expect) for c in pending][:20]
    out["unanswered"] = len(pending)
    return out


def _collect(sock: socket.socket, pending: list[Case], out: dict, wait: float) -> None:
    """Read answers until every pending case has its final one (or ``wait`` passes)."""
    by_token = {c.token: c for c in pending}
    deadline = time.monotonic() + wait
    while by_token and time.monotonic() < deadline:
        r, _, _ = select.select([sock], [], [], 0.05)
        if not r:
            continue
        while True:
            try:
                data = sock.recv(65536)
            except BlockingIOError:
                break
            m = re.match(rb"SIP/2\.0 (\d{3}) ", data)
            t = re.search(rb"branch=z9hG4bK(fz\d+x[0-9a-f]+)", data)
            if not m or not t:
                continue
            status, case = int(m.group(1)), by_token.get(t.group(1).decode())
            if case is None or status < 200:
                continue
            del by_token[case.token]
            out["answered"] += 1
            ok = (400 <= status < 500) if case.expect == "4xx" else status == case.expect
            if not ok:
                out["wrong"].append((case.kind, case.expect, status))
    pending[:] = list(by_token.values())


def fuzz(rounds: int = 10, sip_per_round: int = 1000, http_per_round: int = 100, seed: int = 11,
         progress=None, idle_window: float = 10.0) -> dict:
    """Start an ACD daemon, fuzz it for ``rounds`` rounds, and summarise (see the module);
    ``idle_cpu`` is the share of a CPU the daemon uses over ``idle_window`` s afterwards."""
    rng = random.Random(seed)
    summary: dict = {"rounds": [], "sip_sent": 0, "sip_answerable": 0, "sip_wrong": [],
                     "sip_unanswered": 0, "http_sent": 0, "http_bad": []}
    with tempfile.TemporaryDirectory(prefix="labkit-acd-fuzz-") as tmp, procs.OwnProcesses() as own:
        cfg = AcdDaemon.render(Path(tmp) / "acd.yaml", CONFIG)
        daemon = AcdDaemon(cfg, sip=("127.0.0.1", procs.free_port(socket.SOCK_DGRAM)),
                           http=("127.0.0.1", procs.free_port()), timer_scale=TIMER_SCALE)
        acd = own.spawn(daemon.argv(), Path(tmp) / "acd.log")
        daemon.wait_ready(15, alive=lambda: acd.poll() is None)
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        sock.bind(("127.0.0.1", 0))
        sock.setblocking(False)
        ctx = SipContext(me=sock.getsockname(), acd=daemon.sip, rng=random.Random(seed + 1))
        lifetime = 64 * 0.5 * TIMER_SCALE * 9 + 1
        try:
            for i in range(rounds):
                r = sip_round(rng, ctx, sock, sip_per_round)
                bad_http = []
                for _ in range(http_per_round):
                    data = http_case(rng)
                    status, doc = send_http(daemon.http[1], data)
                    if not (400 <= status < 500 and isinstance(doc, dict) and doc.get("status") == status
                            and isinstance(doc.get("error"), str)):
                        bad_http.append((data[:60].decode("latin-1"), status, doc))
                # the ACD's timers run out (64*T1 for unACKed calls, Timer J/H for the rest)
                try:
                    procs.wait_until(lambda: _quiet(daemon.http[1]), lifetime * 3, 0.1,
                                     what="the ACD quiet after a fuzz round")
                    quiet = True
                except procs.WaitTimeout:
                    quiet = False
                queues = _rest(daemon.http[1], "GET", "/queues")
                ghosts = sum(len(q["calls"]) for q in queues.get("queues", [])) if "queues" in queues else -1
                rss = _rss_kb(acd.pid) if acd.poll() is None else 0
                stats = _rest(daemon.http[1], "GET", "/stats")
                summary["rounds"].append({"rss_kb": rss, "ghosts": ghosts, "quiet": quiet,
                                          "sip": r["sent"], "answered": r["answered"],
                                          "unanswered": r["unanswered"], "http": http_per_round,
                                          "http_bad": len(bad_http), "stats_ok": "sip" in stats,
                                          "handler_errors": stats.get("sip", {}).get("handler_errors", -1)})
                summary["sip_sent"] += r["sent"]
                summary["sip_answerable"] += r["answered"] + r["unanswered"]
                summary["sip_wrong"] += r["wrong"][:20]
                summary["sip_unanswered"] += r["unanswered"]
                summary["sip_missing_sample"] = (summary.get("sip_missing_sample", []) + r["missing"])[:20]
                summary["http_sent"] += http_per_round
                summary["http_bad"] += bad_http[:5]
                if progress:
                    progress(f"round {i + 1}/{rounds}: {r['sent']} datagrams ({r['answered']} answered, "
                             f"{r['unanswered']} not), {http_per_round} HTTP ({len(bad_http)} bad), "
                             f"RSS {rss} kB, ghosts {ghosts}, quiet {quiet}")
        finally:
            sock.close()
        summary["alive"] = acd.poll() is None
        # nothing left running in it: the idle daemon's CPU over 10 s after the last round
        summary["idle_cpu"] = round(procs.idle_cpu(acd.pid, idle_window), 4) if summary["alive"] else 1.0
        summary["log_tail"] = (Path(tmp) / "acd.log").read_text(errors="replace")[-2000:]
    rss = [r["rss_kb"] for r in summary["rounds"]]
    summary["rss_growth_after_first"] = round(max(rss[1:], default=rss[0]) / rss[0] - 1, 4) \
        if rss and rss[0] else 0
    return summary


def verdict(out: dict) -> list[str]:
    """What went wrong in a fuzz run, in words (empty: every input answered as it must be)."""
    bad = []
    if not out["alive"]:
        bad.append("the ACD died")
    if out["sip_unanswered"]:
        bad.append(f"{out['sip_unanswered']} answerable SIP requests got no answer")
    if out["sip_wrong"]:
        bad.append(f"{len(out['sip_wrong'])} SIP requests got the wrong answer")
    if out["http_bad"]:
        bad.append(f"{len(out['http_bad'])} HTTP requests got no JSON 4xx")
    for i, r in enumerate(out["rounds"], 1):
        if r["ghosts"] or not r["quiet"] or not r["stats_ok"] or r["handler_errors"]:
            bad.append(f"round {i}: {r}")
    if out["rss_growth_after_first"] >= 0.10:
        bad.append(f"RSS grew {out['rss_growth_after_first']:.1%} after the first round")
    if out.get("idle_cpu", 0) >= 0.05:
        bad.append(f"the idle ACD used {out['idle_cpu']:.1%} of a CPU afterwards")
    return bad


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m labkit.acd.fuzz", description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=count_arg, default=10)
    ap.add_argument("--datagrams", "--sip", dest="sip", type=count_arg, default=1000,
                    help="SIP datagrams per round")
    ap.add_argument("--requests", "--http", dest="http", type=count_arg, default=100,
                    help="HTTP requests per round")
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args(argv)
    out = fuzz(args.rounds, args.sip, args.http, args.seed,
               progress=lambda s: print(s, file=sys.stderr, flush=True))
    out["problems"] = verdict(out)
    print(json.dumps(out, indent=1))
    print("fuzz: " + ("every input answered as it must be" if not out["problems"]
                      else "PROBLEMS: " + "; ".join(out["problems"])), file=sys.stderr)
    return 1 if out["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
