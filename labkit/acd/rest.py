"""The ACD's REST API: a small HTTP/1.1 server on stdlib asyncio, answering JSON.

Why stdlib and not aiohttp: aiohttp is not in the environment, the API has a dozen routes, and
sharing the SIP event loop keeps every answer consistent with the SIP state without locks.
Responses are built with ``labkit.jsondoc.JSON`` (the seed's JSON class), in the seed's
shapes for ``GET /queues`` and ``GET /agents``.  Every error is JSON too:
``{"error": "...", "status": N}`` with 400 (bad HTTP/JSON), 404 (no such path or object),
405 (method; ``Allow`` says which), 409 (state conflict), 413 (too large), 415 (not
application/json), 422 (valid JSON, wrong fields).
"""
from __future__ import annotations

import asyncio
import gc
import json
import logging
import math
import re
import time
from typing import Any, Callable
from urllib.parse import unquote, urlsplit

from labkit.diag import printable
from labkit.digits import uint
from labkit.jsondoc import JSON, JSONParseError

from .core import ConfigError, Agent, Call, Queue, make_agent, make_queue
from .server import AcdServer

log = logging.getLogger("labkit.acd.rest")
MAX_BODY = 64 * 1024
MAX_HEAD = 16 * 1024
READ_TIMEOUT = 30           # seconds a client may take to send a request head or body


class HttpError(Exception):
    def __init__(self, status: int, message: str, allow: str = "") -> None:
        super().__init__(message)
        self.status, self.message, self.allow = status, message, allow


REASONS = {200: "OK", 201: "Created", 202: "Accepted", 400: "Bad Request", 404: "Not Found",
           405: "Method Not Allowed", 408: "Request Timeout", 409: "Conflict", 413: "Payload Too Large",
           415: "Unsupported Media Type", 422: "Unprocessable Entity", 500: "Internal Server Error"}


def _find(table: dict, key: str, what: str, listing: str) -> Any:
    """``table[key]``, or the 404 that says where the existing ones are listed."""
    found = table.get(key)
    if found is None:
        raise HttpError(404, f"no {what} {key!r}; GET {listing} lists them")
    return found


def _valid(make: Callable, *args: Any) -> Any:
    """``make(*args)`` (make_queue / make_agent); a ConfigError is the client's 422."""
    try:
        return make(*args)
    except ConfigError as exc:
        raise HttpError(422, str(exc)) from None


def _conflict(change: Callable, *args: Any) -> None:
    """Apply a run-time change; the server's ValueError / RuntimeError is a 409 conflict."""
    try:
        change(*args)
    except (ValueError, RuntimeError) as exc:
        raise HttpError(409, str(exc)) from None


def _call_json(parent: JSON, c: Call) -> None:
    o = parent.addObject()
    o.addValue(c.id, "id")
    o.addValue(c.state, "state")
    o.addValue(c.from_, "from")
    o.addValue(c.to, "to")


def _agent_json(parent: JSON, a: Agent, now: float, pbx: bool = False) -> JSON:
    o = parent.addObject()
    o.addValue(a.id, "id")
    o.addValue(a.shown_state(), "state")
    idle = int(now - a.idle_since) if a.state == "idle" and a.idle_since else 0
    o.addValue(str(idle), "idletime")            # the seed shows idletime as a string
    o.addValue(a.device, "device")
    m = o.addList("memberof")
    for q in a.memberof:
        m.addValue(q)
    if pbx:                                      # PBX mode only: the seed's shape otherwise
        o.addValue(a.subscription, "subscription")
    return o


class RestApi:
    """Routes (method, regex) -> handler; handlers return (status, JSON)."""

    def __init__(self, acd: AcdServer) -> None:
        self.acd = acd
        self.server: asyncio.AbstractServer | None = None
        self.routes: list[tuple[re.Pattern, dict[str, Callable]]] = [
            (re.compile(r"/queues"), {"GET": self.get_queues, "POST": self.post_queue}),
            (re.compile(r"/queues/([^/]+)"), {"GET": self.get_queue, "DELETE": self.delete_queue}),
            (re.compile(r"/queues/([^/]+)/stats"), {"GET": self.get_queue_stats}),
            (re.compile(r"/agents"), {"GET": self.get_agents, "POST": self.post_agent}),
            (re.compile(r"/agents/([^/]+)"), {"GET": self.get_agent, "PATCH": self.patch_agent,
                                              "DELETE": self.delete_agent}),
            (re.compile(r"/agents/([^/]+)/logout"), {"POST": self.post_logout}),
            (re.compile(r"/calls"), {"GET": self.get_calls}),
            (re.compile(r"/calls/([^/]+)"), {"DELETE": self.delete_call}),
            (re.compile(r"/calls/([^/]+)/transfer"), {"POST": self.post_transfer}),
            (re.compile(r"/stats"), {"GET": self.get_stats}),
            (re.compile(r"/queuelog"), {"GET": self.get_queuelog}),
        ]

    async def start(self, host: str, port: int) -> None:
        self.server = await asyncio.start_server(self._client, host, port, limit=MAX_HEAD)

    @property
    def port(self) -> int:
        return self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server:
            self.server.close()
            await self.server.wait_closed()

    # ---- HTTP plumbing ---------------------------------------------------------------------
    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                keep = await self._one(reader, writer)
                if not keep:
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.TimeoutError):
            pass
        except Exception:   # noqa: BLE001 - never let one client kill the server
            log.exception("REST connection failed")
        finally:
            writer.close()

    async def _one(self, reader, writer) -> bool:
        """Read and answer one request; False when the connection must close.  Every request
        that arrived, however broken, gets a JSON answer before the close."""
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT)
        except asyncio.IncompleteReadError as exc:
            if exc.partial.strip():
                self._send(writer, 400, _err(400, "incomplete HTTP request head"), False)
            return False
        except asyncio.LimitOverrunError:
            self._send(writer, 400, _err(400, f"request head longer than {MAX_HEAD} bytes"), False)
            return False
        except asyncio.TimeoutError:
            self._send(writer, 408, _err(408, f"no complete request head within {READ_TIMEOUT} s"), False)
            return False
        try:
            method, target, version, headers = _parse_head(head)
            if "transfer-encoding" in headers:
                raise HttpError(400, "chunked bodies are not supported; send Content-Length")
            try:
                length = uint(headers.get("content-length", "0"), 2**63, "Content-Length")
            except ValueError as exc:
                raise HttpError(400, str(exc)) from None
            if length > MAX_BODY:
                raise HttpError(413, f"body over {MAX_BODY} bytes")
        except HttpError as exc:
            self._send(writer, exc.status, _err(exc.status, exc.message), False)
            return False
        keep = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
        body = b""
        if length:
            try:
                body = await asyncio.wait_for(reader.readexactly(length), READ_TIMEOUT)
            except asyncio.IncompleteReadError as exc:
                self._send(writer, 400, _err(400, f"body ended after {len(exc.partial)} of "
                                                  f"{length} bytes (Content-Length)"), False)
                return False
            except asyncio.TimeoutError:
                self._send(writer, 408, _err(408, f"body not complete within {READ_TIMEOUT} s"), False)
                return False
        status, doc, allow = self.handle(method, target, headers, body)
        pretty = "pretty" in urlsplit(target).query
        self._send(writer, status, doc, keep, allow, pretty)
        await writer.drain()
        return keep

    def _send(self, writer, status: int, doc: JSON, keep: bool, allow: str = "",
              pretty: bool = False) -> None:
        # Documents are built with the seed's JSON class; ``?pretty`` also writes them with it
        # (the seed's formatted output).  The default compact form goes through the C json
        # encoder: under 300 calls/s the pure-Python writer alone took most of the 20 ms budget.
        if pretty:
            data = (doc.stringify(True) + "\n").encode()
        else:
            data = (json.dumps(doc.to_python(), separators=(",", ":"), ensure_ascii=False)
                    + "\n").encode()
        head = [f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}",
                "Content-Type: application/json", f"Content-Length: {len(data)}",
                "Connection: " + ("keep-alive" if keep else "close"), "Server: labkit-acd"]
        if allow:
            head.append(f"Allow: {allow}")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + data)

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes
               ) -> tuple[int, JSON, str]:
        """Route one request; every failure becomes a JSON error (never an exception)."""
        path = urlsplit(target).path.rstrip("/") or "/"
        try:
            for rx, methods in self.routes:
                m = rx.fullmatch(path)
                if not m:
                    continue
                fn = methods.get(method)
                if fn is None:
                    allow = ", ".join(methods)
                    raise HttpError(405, f"{method} not allowed on {path}; use {allow}", allow)
                args = [unquote(g) for g in m.groups()]
                if method in ("POST", "PATCH", "PUT"):
                    args.append(_json_body(headers, body))
                status, doc = fn(*args)
                return status, doc, ""
            raise HttpError(404, f"no such resource {path}; see /queues, /agents, /calls, /stats")
        except HttpError as exc:
            return exc.status, _err(exc.status, exc.message), exc.allow
        except Exception as exc:   # noqa: BLE001
            log.exception("REST handler failed")
            return 500, _err(500, f"internal error: {exc}"), ""

    # ---- queues ----------------------------------------------------------------------------
    def get_queues(self) -> tuple[int, JSON]:
        doc = JSON()
        ql = doc.addList("queues")
        for q in self.acd.queues.values():
            o = ql.addObject()
            o.addValue(q.name, "name")
            cl = o.addList("calls")
            for c in q.calls:
                _call_json(cl, c)
            if self.acd.pbx is not None:         # PBX mode only: the seed's shape otherwise
                registered, why = self.acd.registration_of(q.name)
                o.addValue(registered, "registered")
                o.addValue(why, "registration")
        return 200, doc

    def _queue(self, name: str) -> Queue:
        return _find(self.acd.queues, name, "queue", "/queues")

    def _queue_doc(self, q: Queue) -> JSON:
        doc = JSON()
        doc.addValue(q.name, "name")
        doc.addValue(q.strategy, "strategy")
        cl = doc.addList("calls")
        for c in q.calls:
            _call_json(cl, c)
        doc.add(q.stats_dict(self.acd.now()), "stats")
        return doc

    def get_queue(self, name: str) -> tuple[int, JSON]:
        return 200, self._queue_doc(self._queue(name))

    def get_queue_stats(self, name: str) -> tuple[int, JSON]:
        return 200, JSON.from_python(self._queue(name).stats_dict(self.acd.now()))

    def post_queue(self, body: JSON) -> tuple[int, JSON]:
        q = _valid(make_queue, _object(body), "POST /queues")
        _conflict(self.acd.add_queue, q)
        return 201, self._queue_doc(q)

    def delete_queue(self, name: str) -> tuple[int, JSON]:
        self._queue(name)
        _conflict(self.acd.remove_queue, name)
        return 200, JSON.from_python({"deleted": name})

    # ---- agents ----------------------------------------------------------------------------
    def get_agents(self) -> tuple[int, JSON]:
        doc = JSON()
        al = doc.addList("agents")
        now = self.acd.now()
        for a in self.acd.agents.values():
            _agent_json(al, a, now, self.acd.pbx is not None)
        return 200, doc

    def _agent(self, aid: str) -> Agent:
        return _find(self.acd.agents, aid, "agent", "/agents")

    def _agent_doc(self, a: Agent) -> JSON:
        wrapper = JSON.new_list()
        o = _agent_json(wrapper, a, self.acd.now(), self.acd.pbx is not None)
        o.addValue(a.paused, "paused")
        o.addValue(a.missed, "missed")
        return o

    def get_agent(self, aid: str) -> tuple[int, JSON]:
        return 200, self._agent_doc(self._agent(aid))

    def post_agent(self, body: JSON) -> tuple[int, JSON]:
        a = _valid(make_agent, _object(body), set(self.acd.queues), "POST /agents")
        if a.id in self.acd.queues or a.id in (self.acd.cfg.login_user, self.acd.cfg.logout_user):
            raise HttpError(409, f"{a.id!r} is already a queue or service name")
        _conflict(self.acd.add_agent, a)
        return 201, self._agent_doc(a)

    def patch_agent(self, aid: str, body: JSON) -> tuple[int, JSON]:
        a = self._agent(aid)
        data = _object(body)
        extra = set(data) - {"memberof", "paused"}
        if extra or not data:
            raise HttpError(422, f"PATCH /agents/{aid} takes memberof and/or paused, got {sorted(data)}")
        if "memberof" in data:
            _valid(make_agent, {"id": aid, "memberof": data["memberof"]}, set(self.acd.queues),
                   f"PATCH /agents/{aid}")
        if "paused" in data and not isinstance(data["paused"], bool):
            raise HttpError(422, "paused must be true or false")
        if "memberof" in data:
            a.memberof = list(dict.fromkeys(data["memberof"]))
        if "paused" in data:
            self.acd.set_paused(a, data["paused"])
        self.acd._dispatch()
        return 200, self._agent_doc(a)

    def delete_agent(self, aid: str) -> tuple[int, JSON]:
        self._agent(aid)
        _conflict(self.acd.remove_agent, aid)
        return 200, JSON.from_python({"deleted": aid})

    def post_logout(self, aid: str, body: JSON) -> tuple[int, JSON]:
        a = self._agent(aid)
        self.acd.logout_agent(a, "rest")
        return 200, self._agent_doc(a)

    # ---- calls -----------------------------------------------------------------------------
    def get_calls(self) -> tuple[int, JSON]:
        doc = JSON()
        cl = doc.addList("calls")
        for c in self.acd.calls.values():
            o = cl.addObject()
            o.addValue(c.id, "id")
            o.addValue(c.state, "state")
            o.addValue(c.from_, "from")
            o.addValue(c.to, "to")
            o.addValue(c.queue.name if c.queue else "", "queue")
            o.addValue(c.agent.id if c.agent else "", "agent")
            o.addValue(round(self.acd.now() - c.enqueued, 3), "age")
            o.addValue(c.bridge, "bridge")
            o.addValue(c.media, "media")
        return 200, doc

    def delete_call(self, call_id: str) -> tuple[int, JSON]:
        _find(self.acd.calls, call_id, "call", "/calls")
        self.acd.end_call(call_id)
        return 200, JSON.from_python({"deleted": call_id})

    def post_transfer(self, call_id: str, body: JSON) -> tuple[int, JSON]:
        data = _object(body)
        to = data.get("to")
        if not isinstance(to, str) or not to.startswith(("sip:", "sips:")):
            raise HttpError(422, 'transfer needs {"to": "sip:user@host[:port]"}')
        if call_id not in self.acd.calls:
            raise HttpError(404, f"no call {call_id!r}; GET /calls lists them")
        try:
            call = self.acd.transfer(call_id, to)
        except ValueError as exc:
            raise HttpError(422, f"bad target {to!r}: {exc}") from None
        return 202, JSON.from_python({"id": call.id, "state": call.state, "to": to,
                                      "method": "re-INVITE (3PCC)"})

    # ---- stats -----------------------------------------------------------------------------
    def get_stats(self) -> tuple[int, JSON]:
        now = self.acd.now()
        pbx = {"pbx": self.acd.pbx_stats()} if self.acd.pbx is not None else {}
        return 200, JSON.from_python({
            "queues": {q.name: q.stats_dict(now) for q in self.acd.queues.values()},
            "sip": dict(self.acd.ep.stats) if self.acd.ep else {},
            "counters": dict(self.acd.counters),
            "logouts": dict(self.acd.logouts),
            "queue_log_events": dict(self.acd.qlog.counts),
            "rtp": self.acd.player.sched.counters() if self.acd.player.sched else {},
            "leaks": self.acd.leaks(),
            "uptime": round(now - self.acd.started, 1),
            "gc": {"tracked_objects": len(gc.get_objects()), "counts": list(gc.get_count()),
                   "frozen": gc.get_freeze_count()},
            **pbx,
        })

    def get_queuelog(self) -> tuple[int, JSON]:
        return 200, JSON.from_python({"lines": self.acd.qlog.lines[-200:]})


#: Headers a request may carry once; two different values are a 400.
SINGLE_HEADERS = frozenset(("content-length", "content-type", "host", "transfer-encoding"))


def _err(status: int, message: str) -> JSON:
    return JSON.from_python({"error": message, "status": status})


def _parse_head(head: bytes) -> tuple[str, str, str, dict[str, str]]:
    try:
        text = head.decode("latin-1")
    except UnicodeDecodeError:   # pragma: no cover - latin-1 decodes everything
        raise HttpError(400, "undecodable request head") from None
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1.") or not parts[1].startswith("/"):
        raise HttpError(400, f"bad request line {printable(lines[0], 80)!r}")
    method = parts[0]
    if not (method.isascii() and method.isalpha() and method.isupper()):
        raise HttpError(400, f"bad method {printable(method, 20)!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        k, colon, v = line.partition(":")
        if not colon or not k or k != k.strip():
            raise HttpError(400, f"bad header line {printable(line, 60)!r}")
        name, v = k.lower(), v.strip()
        if name in SINGLE_HEADERS and headers.setdefault(name, v) != v:
            # two lengths: which body is it? (RFC 9112 6.3: a request smuggling pattern)
            raise HttpError(400, f"two different {k} headers")
        headers[name] = v
    return method, parts[1], parts[2], headers


def _json_body(headers: dict[str, str], body: bytes) -> JSON:
    if not body and "content-type" not in headers:
        return JSON()          # POST /agents/X/logout needs no body
    ctype = headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json":
        raise HttpError(415, f"send Content-Type: application/json (got {ctype or 'none'!r})")
    if not body.strip():
        raise HttpError(400, "empty body; send a JSON object")
    try:
        doc = JSON.parse(body, "request body")
    except JSONParseError as exc:
        raise HttpError(400, f"bad JSON: {exc}") from None
    where = _non_finite(doc.to_python(), "$")
    if where:
        # 1e999 parses as infinity, which no JSON answer can carry: refused before it is used
        raise HttpError(422, f"the number at {where} is out of range (JSON has no infinity)")
    return doc


def _non_finite(value: Any, path: str) -> str:
    """The JSONPath-like place of the first infinite number in ``value``, or ''."""
    if isinstance(value, float):
        return "" if math.isfinite(value) else path
    if isinstance(value, dict):
        items = ((f"{path}.{printable(k, 30)}", v) for k, v in value.items())
    elif isinstance(value, list):
        items = ((f"{path}[{i}]", v) for i, v in enumerate(value))
    else:
        return ""
    return next((w for p, v in items if (w := _non_finite(v, p))), "")


def _object(doc: JSON) -> dict[str, Any]:
    data = doc.to_python()
    if not isinstance(data, dict):
        raise HttpError(422, f"expected a JSON object, got {doc.kind}")
    return data
