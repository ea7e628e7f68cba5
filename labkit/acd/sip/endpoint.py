"""A SIP UDP endpoint: socket, transaction tables, 2xx retransmission, dialog helpers.

The transaction user (the ACD, a phone) implements :class:`Handler`.  Every datagram is parsed
inside ``datagram_received``; whatever goes wrong in parsing or in the TU is caught and counted,
so one malformed packet can never stop the server.
"""
from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import socket
from dataclasses import dataclass, field
from typing import Callable, Protocol

from .digest import DigestClient, DigestError
from .message import (NameAddr, SipMessage, SipParseError, SipUri, canonical, make_response,
                      new_branch, new_call_id, new_tag, parse)
from .transaction import (Addr, ClientTxn, InviteClientTxn, InviteServerTxn, NonInviteServerTxn,
                          ServerTxn, Timers, client_key, server_key)

log = logging.getLogger("labkit.acd.sip")
#: A request is re-sent with credentials once, and again only for a stale nonce: at most this often.
MAX_AUTH_ROUNDS = 3


class Handler(Protocol):
    def on_request(self, req: SipMessage, txn: ServerTxn) -> None: ...
    def on_ack(self, req: SipMessage) -> None: ...
    def on_cancel(self, invite: SipMessage) -> None: ...


def resolve(uri: SipUri) -> Addr:
    """UDP destination of a URI, default port 5060: an IP literal, or a name from /etc/hosts.

    Never DNS: a lookup runs on the event loop and would stall every call for the resolver's
    timeout, and a URI from the wire (a Contact, a transfer target) must not make the server
    send queries anywhere.  A name that is not in /etc/hosts is a ValueError (callers answer
    or log it like any unreachable target)."""
    host = uri.host
    try:
        ipaddress.ip_address(host)
    except ValueError:
        found = _hosts().get(host.lower())
        if found is None:
            raise ValueError(f"cannot resolve {host[:60]!r} without DNS: use an IP address "
                             "or a name from /etc/hosts") from None
        host = found
    return host, uri.port or 5060


_HOSTS: dict[str, object] = {"mtime": None, "map": {}}


def _hosts(path: str = "/etc/hosts") -> dict[str, str]:
    """Names -> first IPv4 address in /etc/hosts (re-read when the file changes)."""
    try:
        mtime = os.stat(path).st_mtime_ns
    except OSError:
        return {}
    if _HOSTS["mtime"] != mtime:
        table: dict[str, str] = {}
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                for line in f:
                    fields = line.split("#", 1)[0].split()
                    if len(fields) >= 2 and ":" not in fields[0]:
                        for name in fields[1:]:
                            table.setdefault(name.lower(), fields[0])
        except OSError:
            return {}
        _HOSTS.update(mtime=mtime, map=table)
    return _HOSTS["map"]  # type: ignore[return-value]


@dataclass
class Dialog:
    """RFC 3261 12: the state both ends keep for a call or a subscription."""
    call_id: str
    local_tag: str
    remote_tag: str
    local_uri: str          # name-addr without tag
    remote_uri: str
    remote_target: str      # Contact of the peer (a URI)
    local_contact: str
    local_seq: int = 1
    remote_seq: int = 0
    route_set: list[str] = field(default_factory=list)

    @classmethod
    def as_uas(cls, req: SipMessage, local_tag: str, local_contact: str) -> "Dialog":
        contact = req.contact
        return cls(call_id=req.call_id, local_tag=local_tag, remote_tag=req.from_.tag,
                   local_uri=_strip_tag(req.get("To")), remote_uri=_strip_tag(req.get("From")),
                   remote_target=str(contact.uri) if contact else str(req.from_.uri),
                   local_contact=local_contact, local_seq=0, remote_seq=req.cseq[0],
                   route_set=req.get_all("Record-Route"))

    @classmethod
    def as_uac(cls, req: SipMessage, resp: SipMessage, local_contact: str) -> "Dialog":
        contact = resp.contact
        return cls(call_id=req.call_id, local_tag=req.from_.tag, remote_tag=resp.to.tag,
                   local_uri=_strip_tag(req.get("From")), remote_uri=_strip_tag(req.get("To")),
                   remote_target=str(contact.uri) if contact else req.uri,
                   local_contact=local_contact, local_seq=req.cseq[0], remote_seq=0,
                   route_set=list(reversed(resp.get_all("Record-Route"))))

    @property
    def key(self) -> tuple[str, str]:
        return (self.call_id, self.local_tag)

    def destination(self) -> Addr:
        """Where an in-dialog request goes: the first route (a proxy that record-routed,
        loose or strict), else the peer's Contact."""
        if self.route_set:
            return resolve(NameAddr.parse(self.route_set[0]).uri)
        return resolve(SipUri.parse(self.remote_target))

    def _uri_and_routes(self) -> tuple[str, list[str]]:
        """Request-URI and Route headers of an in-dialog request (RFC 3261 12.2.1.1): with a
        loose router first (``;lr``, every proxy since RFC 3261, Kamailio's record_route()) the
        Request-URI is the peer's Contact and the whole route set goes in Route; with a strict
        router first (RFC 2543) its URI is the Request-URI, the rest of the route set and then
        the Contact go in Route."""
        if not self.route_set:
            return self.remote_target, []
        first = NameAddr.parse(self.route_set[0]).uri
        if "lr" in first.params:
            return self.remote_target, list(self.route_set)
        uri = SipUri(first.scheme, first.user, first.host, first.port,
                     {k: v for k, v in first.params.items() if k != "method"})
        return str(uri), [*self.route_set[1:], f"<{self.remote_target}>"]

    def request(self, method: str, body: bytes = b"", content_type: str = "",
                extra: list[tuple[str, str]] | None = None, cseq: int | None = None) -> SipMessage:
        """An in-dialog request; ACK reuses the INVITE's CSeq via ``cseq``."""
        if cseq is None:
            self.local_seq += 1
            cseq = self.local_seq
        uri, routes = self._uri_and_routes()
        msg = SipMessage(method=method, uri=uri)
        msg.dialog = self
        msg.headers.append(("Via", ""))   # filled by the endpoint
        for r in routes:
            msg.headers.append(("Route", r))
        msg.headers += [("Max-Forwards", "70"),
                        ("From", f"{self.local_uri};tag={self.local_tag}"),
                        ("To", f"{self.remote_uri};tag={self.remote_tag}" if self.remote_tag
                         else self.remote_uri),
                        ("Call-ID", self.call_id), ("CSeq", f"{cseq} {method}"),
                        ("Contact", f"<{self.local_contact}>")]
        return _with_extra_and_body(msg, extra, body, content_type)


def _with_extra_and_body(msg: SipMessage, extra: list[tuple[str, str]] | None, body: bytes,
                         content_type: str) -> SipMessage:
    """The tail every request builder shares: extra headers, then the body and its type."""
    for k, v in extra or []:
        msg.headers.append((canonical(k), v))
    if body:
        msg.headers.append(("Content-Type", content_type))
        msg.body = body
    return msg


def _reason(text: str) -> str:
    """A reason phrase from an error message: one line of printable ASCII, at most 80 long."""
    return "".join(ch if " " <= ch <= "~" else "?" for ch in text[:80])


def _strip_tag(value: str) -> str:
    na = NameAddr.parse(value)
    na.params.pop("tag", None)
    return str(na)


class SipEndpoint:
    """One UDP socket, its transactions, and the glue to a transaction user."""

    def __init__(self, handler: Handler, timers: Timers = Timers(), user_agent: str = "labkit-sip"):
        self.handler = handler
        self.timers = timers
        self.user_agent = user_agent
        try:
            self.loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:      # built outside a loop (message builders, tests): listen() sets it
            self.loop = None
        self.sock: socket.socket | None = None
        self.host, self.port = "127.0.0.1", 0
        self.server_txns: dict[tuple, ServerTxn] = {}
        # (Call-ID, From tag, CSeq, method) of server transactions begun without a To tag:
        # how a merged request is told apart (RFC 3261 8.2.2.2)
        self.merge_keys: dict[tuple, tuple] = {}
        self.client_txns: dict[tuple, ClientTxn] = {}
        self.pending_2xx: dict[tuple[str, int], dict] = {}
        self.sent_acks: dict[tuple[str, int], tuple[bytes, Addr, asyncio.TimerHandle]] = {}
        # Call-IDs of INVITEs sent here lately (64*T1 after their transaction ends): a 2xx
        # whose transaction is gone is ACKed and BYEd only if it answers one of ours, never a
        # spoofed one (that would make us send a dozen datagrams to any address it names)
        self.our_invites: dict[str, float] = {}
        self.stats = {"rx": 0, "tx": 0, "malformed": 0, "handler_errors": 0, "retrans_tx": 0,
                      "retrans_rx": 0, "stray": 0, "tx_dropped": 0, "tx_errors": 0,
                      "txn_timeouts": 0, "merged": 0, "auth_retries": 0, "auth_failures": 0}
        # Credentials for the one peer that may challenge us (a PBX); None: challenges are
        # delivered as they came (labkit.acd.sip.digest says where this plugs in)
        self.auth: DigestClient | None = None
        # Test hook: return True to drop an outgoing message (simulates loss on the wire).
        self.drop: Callable[[SipMessage | None, Addr], bool] | None = None
        # Trace hook: (direction "tx"/"rx", message, peer) for first sends and parsed receives;
        # labkit.acd.flows builds ladder diagrams from it without capturing packets.
        self.trace: Callable[[str, SipMessage, Addr], None] | None = None

    # ---- lifecycle -------------------------------------------------------------------------
    @classmethod
    async def listen(cls, handler: Handler, host: str, port: int, **kw) -> "SipEndpoint":
        """Bind a UDP socket and read it with ``loop.add_reader``.

        Why not ``create_datagram_endpoint``: asyncio's datagram transport reads ONE datagram
        per loop iteration; under a burst the kernel queue then grows, answers come late, peers
        retransmit and the queue grows faster (a retransmission storm).  Here each wake-up drains
        the socket."""
        ep = cls(handler, **kw)
        ep.loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
        for opt in ("SO_RCVBUFFORCE", "SO_RCVBUF"):   # FORCE works as root, above rmem_max
            try:
                sock.setsockopt(socket.SOL_SOCKET, getattr(socket, opt), 8 << 20)
                break
            except (OSError, AttributeError):
                continue
        for opt in ("SO_SNDBUFFORCE", "SO_SNDBUF"):
            try:
                sock.setsockopt(socket.SOL_SOCKET, getattr(socket, opt), 4 << 20)
                break
            except (OSError, AttributeError):
                continue
        try:
            sock.bind((host, port))
        except OSError:
            sock.close()
            raise
        sock.setblocking(False)
        ep.sock = sock
        ep.host, ep.port = sock.getsockname()[:2]
        ep.loop.add_reader(sock.fileno(), ep._readable)
        return ep

    def _readable(self) -> None:
        sock = self.sock
        for _ in range(1024):
            try:
                data, addr = sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:        # ICMP port unreachable from an earlier send
                log.debug("socket error: %s", exc)
                continue
            self.datagram_received(data, addr[:2])

    def close(self) -> None:
        for t in list(self.server_txns.values()):
            t._terminate()
        for t in list(self.client_txns.values()):
            t._terminate()
        for p in self.pending_2xx.values():
            p["handle"].cancel()
        self.pending_2xx.clear()
        for _, _, h in self.sent_acks.values():
            h.cancel()
        self.sent_acks.clear()
        if self.sock is not None:
            try:
                self.loop.remove_reader(self.sock.fileno())
            except (ValueError, RuntimeError):
                pass
            self.sock.close()
            self.sock = None

    @property
    def idle(self) -> bool:
        """No transaction or pending 2xx left: what leak checks assert at the end of a run."""
        return not (self.server_txns or self.client_txns or self.pending_2xx)

    def overdue(self) -> int:
        """Transactions alive past ``Timers.lifetime``: every timer path should have ended them
        by then, so anything counted here is a leak (soaks and GET /stats report it)."""
        limit = self.now() - self.timers.lifetime
        return sum(1 for table in (self.server_txns, self.client_txns)
                   for t in table.values() if t.born < limit)

    # ---- sending ---------------------------------------------------------------------------
    def send_raw(self, data: bytes, addr: Addr, msg: SipMessage | None) -> None:
        if self.drop is not None and self.drop(msg, addr):
            return
        if self.sock is None:
            return
        if self.trace is not None and msg is not None:
            self.trace("tx", msg, addr)
        try:
            self.sock.sendto(data, addr)
            self.stats["tx"] += 1
        except (BlockingIOError, InterruptedError):
            self.stats["tx_dropped"] += 1      # UDP: the transaction layer retransmits
        except OSError as exc:
            self.stats["tx_errors"] += 1
            log.debug("send to %s failed: %s", addr, exc)

    def uri(self, user: str = "") -> str:
        return f"sip:{user + '@' if user else ''}{self.host}:{self.port}"

    def _via(self, branch: str | None = None) -> str:
        return f"SIP/2.0/UDP {self.host}:{self.port};branch={branch or new_branch()};rport"

    def send_request(self, req: SipMessage, addr: Addr, limit: float | None = None) -> ClientTxn:
        """Start a client transaction for ``req`` (fills an empty Via).  ``limit``: how long
        an INVITE may go without a final answer before it is CANCELled (default Timer C)."""
        if req.get("Via") == "":
            req.set("Via", self._via())
        if not req.get("User-Agent"):
            req.headers.append(("User-Agent", self.user_agent))
        if req.method == "INVITE":
            if self.loop is not None:
                self._remember_invite(req.call_id)
            return InviteClientTxn(self, req, addr, limit).start()
        return ClientTxn(self, req, addr).start()

    def _remember_invite(self, call_id: str) -> None:
        now = self.loop.time()
        if len(self.our_invites) > 4096:      # bounded: forget what is past its window
            self.our_invites = {c: t for c, t in self.our_invites.items() if t > now}
        self.our_invites[call_id] = now + self.timers.lifetime

    def new_request(self, method: str, uri: str, from_: str, to: str, *, call_id: str = "",
                    cseq: int = 1, contact: str = "", body: bytes = b"", content_type: str = "",
                    extra: list[tuple[str, str]] | None = None) -> SipMessage:
        """An out-of-dialog request; ``from_`` gets a fresh tag."""
        msg = SipMessage(method=method, uri=uri)
        msg.headers += [("Via", ""), ("Max-Forwards", "70"), ("From", f"{from_};tag={new_tag()}"),
                        ("To", to), ("Call-ID", call_id or new_call_id(self.host)),
                        ("CSeq", f"{cseq} {method}"),
                        ("Contact", f"<{contact or self.uri()}>")]
        return _with_extra_and_body(msg, extra, body, content_type)

    def send_ack(self, dialog: Dialog, invite_cseq: int) -> None:
        """ACK a 2xx (its own transaction); remembered so retransmitted 2xx get re-ACKed."""
        ack = dialog.request("ACK", cseq=invite_cseq)
        ack.set("Via", self._via())
        data = ack.encode()
        addr = dialog.destination()
        key = (dialog.call_id, invite_cseq)
        old = self.sent_acks.pop(key, None)
        if old:
            old[2].cancel()
        h = self.loop.call_later(self.timers.timeout, self.sent_acks.pop, key, None)
        self.sent_acks[key] = (data, addr, h)
        self.send_raw(data, addr, ack)

    def send_2xx(self, txn: ServerTxn, resp: SipMessage,
                 on_no_ack: Callable[[], None] | None = None) -> None:
        """Answer an INVITE with 2xx and retransmit it until the ACK (RFC 3261 13.3.1.4)."""
        txn.respond(resp)
        key = (resp.call_id, resp.cseq[0])
        state = {"data": resp.encode(), "addr": txn.addr, "interval": self.timers.t1,
                 "deadline": self.loop.time() + self.timers.timeout, "on_no_ack": on_no_ack}
        state["handle"] = self.loop.call_later(self.timers.t1, self._retx_2xx, key)
        old = self.pending_2xx.pop(key, None)
        if old:
            old["handle"].cancel()
        self.pending_2xx[key] = state

    def _retx_2xx(self, key: tuple[str, int]) -> None:
        st = self.pending_2xx.get(key)
        if st is None:
            return
        if self.loop.time() >= st["deadline"]:
            del self.pending_2xx[key]
            if st["on_no_ack"]:
                self.guarded(st["on_no_ack"])
            return
        self.stats["retrans_tx"] += 1
        self.send_raw(st["data"], st["addr"], None)
        st["interval"] = min(st["interval"] * 2, self.timers.t2)
        st["handle"] = self.loop.call_later(st["interval"], self._retx_2xx, key)

    def respond_stateless(self, req: SipMessage, addr: Addr, status: int, reason: str = "") -> None:
        resp = make_response(req, status, reason, to_tag=new_tag())
        self.send_raw(resp.encode(), addr, resp)

    # ---- receiving -------------------------------------------------------------------------
    def datagram_received(self, data: bytes, addr: Addr) -> None:
        self.stats["rx"] += 1
        try:
            msg = parse(data)
        except SipParseError as exc:
            self.stats["malformed"] += 1
            self._reject_malformed(data, addr, str(exc))
            return
        except Exception:      # noqa: BLE001 - a parser bug must not kill the server
            self.stats["malformed"] += 1
            log.exception("parser crashed on datagram from %s", addr)
            return
        if self.trace is not None:
            self.trace("rx", msg, addr)
        try:
            if msg.is_request:
                self._on_request(msg, addr)
            else:
                self._on_response(msg)
        except SipParseError as exc:   # a header that only fails when used
            self.stats["malformed"] += 1
            if msg.is_request and msg.method != "ACK":
                self._reject_malformed(data, addr, str(exc))
        except Exception:      # noqa: BLE001
            self.stats["handler_errors"] += 1
            log.exception("handler failed on %s from %s", msg.method or msg.status, addr)

    def _reject_malformed(self, data: bytes, addr: Addr, reason: str) -> None:
        """400 a broken request when enough headers survive to address the answer."""
        try:
            text = data.decode("utf-8", "replace").replace("\r\n", "\n")
            head = text.split("\n\n", 1)[0].split("\n")
            start = head[0].split()
            if len(start) < 3 or start[0].startswith("SIP/") or start[0] == "ACK":
                return
            stub = SipMessage(method=start[0], uri=start[1])
            for line in head[1:]:
                k, c, v = line.partition(":")
                if c and k.strip() and " " not in k.strip():
                    stub.headers.append((canonical(k), v.strip()))
            if not all(stub.get(h) for h in ("Via", "From", "To", "Call-ID", "CSeq")):
                return
            resp = make_response(stub, 400, "Bad Request - " + _reason(reason))
            self.send_raw(resp.encode(), addr, None)
        except Exception:      # noqa: BLE001 - best effort only
            return

    # ---- the Transport its transactions see (labkit.acd.sip.transaction.Transport) --------
    def guarded(self, fn: Callable, *args) -> None:
        try:
            fn(*args)
        except Exception:      # noqa: BLE001
            self.stats["handler_errors"] += 1
            log.exception("handler callback failed")

    def call_later(self, delay: float, fn: Callable, *args) -> asyncio.TimerHandle:
        return self.loop.call_later(delay, fn, *args)

    def create_future(self) -> asyncio.Future:
        return self.loop.create_future()

    def now(self) -> float:
        return self.loop.time() if self.loop is not None else 0.0

    def timed_out(self) -> None:
        self.stats["txn_timeouts"] += 1

    def retransmitted(self) -> None:
        self.stats["retrans_tx"] += 1

    def challenged(self, txn: ClientTxn, resp: SipMessage) -> bool:
        """A 401/407 ends ``txn``: re-send the request once with credentials (same Call-ID and
        From tag, CSeq + 1, a new branch), again only for ``stale=true``.  False: deliver
        ``resp``; when credentials were tried or the challenge cannot be answered, its reason
        phrase says why and ``X-Labkit-Local: auth`` marks it (``transaction.auth_refused``)."""
        auth = self.auth
        if auth is None or not auth.serves(txn.addr) or getattr(txn, "cancel_requested", False):
            return False
        req = txn.request
        proxy = resp.status == 407
        values = resp.get_all("Proxy-Authenticate" if proxy else "WWW-Authenticate")
        try:
            answers, stale = auth.authorize(values, req.method, req.uri, req.body)
        except DigestError as exc:
            return self._auth_failed(resp, str(exc))
        if txn.auth_round >= MAX_AUTH_ROUNDS or (txn.auth_round and not stale):
            return self._auth_failed(resp, f"the PBX refused the credentials for user "
                                           f"{auth.username} ({resp.status} after digest)")
        name = "Proxy-Authorization" if proxy else "Authorization"
        again = SipMessage(method=req.method, uri=req.uri, body=req.body, dialog=req.dialog)
        again.headers = [(k, v) for k, v in req.headers if k != name]
        again.set("Via", self._via())
        seq = req.cseq[0] + 1
        again.set("CSeq", f"{seq} {req.method}")
        for value in answers:
            again.add(name, value)
        if req.dialog is not None:
            req.dialog.local_seq = max(req.dialog.local_seq, seq)
        self.stats["auth_retries"] += 1
        txn.follow(self.send_request(again, txn.addr, getattr(txn, "limit", None)))
        return True

    def _auth_failed(self, resp: SipMessage, why: str) -> bool:
        self.stats["auth_failures"] += 1
        resp.reason = why[:200]
        resp.set("X-Labkit-Local", "auth")
        log.debug("authentication given up: %s", why)
        return False

    def txn_started(self, txn: ClientTxn) -> None:
        self.client_txns[txn.key] = txn

    def txn_ended(self, txn: ServerTxn | ClientTxn) -> None:
        if isinstance(txn, ServerTxn):
            if self.server_txns.get(txn.key) is txn:
                del self.server_txns[txn.key]
            if txn.merge_key is not None and self.merge_keys.get(txn.merge_key) == txn.key:
                del self.merge_keys[txn.merge_key]
        else:
            self.client_txns.pop(txn.key, None)

    def _on_request(self, req: SipMessage, addr: Addr) -> None:
        key = server_key(req)
        if req.method == "ACK":
            txn = self.server_txns.get(key)
            if isinstance(txn, InviteServerTxn) and txn.state in ("completed", "confirmed"):
                txn.ack()
                return
            pend = self.pending_2xx.pop((req.call_id, req.cseq[0]), None)
            if pend is not None:
                pend["handle"].cancel()
                self.handler.on_ack(req)
            else:
                self.stats["stray"] += 1      # retransmitted ACK: nothing to do
            return
        txn = self.server_txns.get(key)
        if txn is not None:
            self.stats["retrans_rx"] += 1
            txn.retransmission(req)
            return
        if req.method == "CANCEL":
            ctxn = NonInviteServerTxn(self, req, addr)
            self.server_txns[key] = ctxn
            inv = self.server_txns.get((key[0], key[1], "INVITE"))
            if not isinstance(inv, InviteServerTxn):
                ctxn.respond(ctxn.response(481))
                return
            ctxn.respond(ctxn.response(200))
            if not inv.final_sent:
                invite = inv.request
                inv.respond(inv.response(487, to_tag=getattr(inv, "to_tag", "") or new_tag()))
                self.handler.on_cancel(invite)
            return
        if req.method == "INVITE":
            txn = InviteServerTxn(self, req, addr)
            self.server_txns[key] = txn
            trying = txn.response(100)
            self.send_raw(trying.encode(), addr, trying)
            txn.last = trying.encode()
        else:
            txn = NonInviteServerTxn(self, req, addr)
            self.server_txns[key] = txn
        if not req.to.tag:
            mk = (req.call_id, req.from_.tag, req.cseq[0], req.method)
            first = self.merge_keys.setdefault(mk, key)
            if first != key and first in self.server_txns:
                # the same request again under another branch (a fork that came back, a loop):
                # answer it 482 and do not let it make a second call (RFC 3261 8.2.2.2)
                self.stats["merged"] += 1
                txn.respond(txn.response(482, "Loop Detected (merged request)", to_tag=new_tag()))
                return
            self.merge_keys[mk] = key
            txn.merge_key = mk
        try:
            self.handler.on_request(req, txn)
        except SipParseError as exc:   # a header the TU needed and could not read
            self.stats["malformed"] += 1
            txn.respond(txn.response(400, "Bad Request - " + _reason(str(exc)), to_tag=new_tag()))
        except Exception:      # noqa: BLE001 - the TU's bug: answer, log, carry on
            self.stats["handler_errors"] += 1
            log.exception("handler failed on %s from %s", req.method, addr)
            txn.respond(txn.response(500, "Server Internal Error", to_tag=new_tag()))

    def _on_response(self, resp: SipMessage) -> None:
        branch = resp.top_via.branch
        txn = self.client_txns.get(client_key(branch, resp.cseq[1]))
        if txn is not None:
            txn.on_response(resp)
            return
        if 200 <= resp.status < 300 and resp.cseq[1] == "INVITE":
            ack = self.sent_acks.get((resp.call_id, resp.cseq[0]))
            if ack is not None:     # retransmitted 2xx: our ACK was lost
                self.send_raw(ack[0], ack[1], None)
                return
            on_stray = getattr(self.handler, "on_stray_2xx", None)
            if on_stray and self.our_invites.get(resp.call_id, 0.0) > self.loop.time():
                on_stray(resp)
                return
        self.stats["stray"] += 1
