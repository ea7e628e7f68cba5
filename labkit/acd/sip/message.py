"""SIP message parsing and serialisation (RFC 3261 section 7, 20, 25).

The parser is lenient where real peers differ (sipp pads ``Content-Length:   137``, compact
header names, folded header lines, bare LF line ends) and strict where a mistake would corrupt
state (missing mandatory headers, bad CSeq, body shorter than Content-Length).  Every failure is
a :class:`SipParseError` with a reason a human can act on; a server turns it into ``400``.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from labkit.digits import is_uint, uint

MAGIC = "z9hG4bK"

# RFC 3261 7.3.3 + RFC 3265/3515/4028 compact forms.
COMPACT = {
    "i": "Call-ID", "f": "From", "t": "To", "v": "Via", "m": "Contact", "l": "Content-Length",
    "c": "Content-Type", "k": "Supported", "s": "Subject", "e": "Content-Encoding",
    "o": "Event", "u": "Allow-Events", "r": "Refer-To", "b": "Referred-By", "x": "Session-Expires",
}
_CANON = {n.lower(): n for n in (
    "Via", "From", "To", "Call-ID", "CSeq", "Contact", "Max-Forwards", "Content-Length",
    "Content-Type", "Route", "Record-Route", "Event", "Allow-Events", "Subscription-State",
    "Expires", "Accept", "Allow", "Supported", "User-Agent", "Server", "Refer-To", "Referred-By",
    "Subject", "Content-Encoding", "Session-Expires", "Require", "Unsupported", "Reason",
    "Retry-After", "Warning", "Min-Expires", "Date", "Organization", "Timestamp",
    "WWW-Authenticate", "Proxy-Authenticate", "Authorization", "Proxy-Authorization")}
_CANON["call-id"] = "Call-ID"
_CANON["cseq"] = "CSeq"
# Headers whose values may be comma-joined lists (RFC 3261 7.3.1); others keep commas verbatim.
_LIST_HEADERS = {"Via", "Route", "Record-Route", "Contact"}
MANDATORY_REQ = ("Via", "From", "To", "Call-ID", "CSeq")
MANDATORY_RESP = ("Via", "From", "To", "Call-ID", "CSeq")
# Headers a message carries at most once (RFC 3261 7.3.1, 20): two different values are a 400.
SINGLE = frozenset(("From", "To", "Call-ID", "CSeq", "Content-Length", "Max-Forwards",
                    "Content-Type", "Expires"))
METHODS = {"INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "INFO", "SUBSCRIBE", "NOTIFY",
           "REFER", "UPDATE", "PRACK", "MESSAGE", "PUBLISH"}
REASONS = {
    100: "Trying", 180: "Ringing", 181: "Call Is Being Forwarded", 182: "Queued",
    183: "Session Progress", 200: "OK", 202: "Accepted", 400: "Bad Request", 401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found", 405: "Method Not Allowed", 407: "Proxy Authentication Required",
    408: "Request Timeout", 415: "Unsupported Media Type", 423: "Interval Too Brief",
    480: "Temporarily Unavailable", 481: "Call/Transaction Does Not Exist", 482: "Loop Detected",
    483: "Too Many Hops", 486: "Busy Here", 487: "Request Terminated", 488: "Not Acceptable Here",
    489: "Bad Event", 491: "Request Pending", 500: "Server Internal Error", 501: "Not Implemented",
    503: "Service Unavailable", 603: "Decline",
}


class SipParseError(ValueError):
    """A datagram that is not a usable SIP message; ``reason`` goes into the 400's reason phrase."""


_CANON_CACHE: dict[str, str] = {}


def canonical(name: str) -> str:
    """Header name in its usual spelling: ``i`` -> ``Call-ID``, ``content-length`` -> ``Content-Length``."""
    hit = _CANON_CACHE.get(name)
    if hit is not None:
        return hit
    out = _canonical(name)
    if len(_CANON_CACHE) < 4096:          # bounded: fuzzers invent header names
        _CANON_CACHE[name] = out
    return out


def _canonical(name: str) -> str:
    n = name.strip()
    low = n.lower()
    if len(low) == 1 and low in COMPACT:
        return COMPACT[low]
    if low in _CANON:
        return _CANON[low]
    return "-".join(p[:1].upper() + p[1:].lower() for p in n.split("-"))


def new_branch() -> str:
    return MAGIC + secrets.token_hex(8)


def new_tag() -> str:
    return secrets.token_hex(5)


def new_call_id(host: str) -> str:
    return f"{secrets.token_hex(12)}@{host}"


def split_list(value: str) -> list[str]:
    """Split a comma list, ignoring commas inside quotes and <...> (Contact display names, URIs)."""
    if "," not in value:
        v = value.strip()
        return [v] if v else []
    out, cur, quote, angle = [], [], False, False
    i = 0
    while i < len(value):
        ch = value[i]
        if quote:
            if ch == "\\" and i + 1 < len(value):
                cur.append(value[i:i + 2]); i += 2; continue
            if ch == '"':
                quote = False
        elif ch == '"':
            quote = True
        elif ch == "<":
            angle = True
        elif ch == ">":
            angle = False
        elif ch == "," and not angle:
            out.append("".join(cur).strip()); cur = []; i += 1; continue
        cur.append(ch)
        i += 1
    last = "".join(cur).strip()
    if last:
        out.append(last)
    return [x for x in out if x]


def parse_params(text: str) -> dict[str, str]:
    """``;tag=1;lr;branch=z9..`` -> dict (flag params map to "")."""
    params: dict[str, str] = {}
    for part in text.split(";"):
        part = part.strip()
        if not part:
            continue
        k, _, v = part.partition("=")
        params[k.strip().lower()] = v.strip().strip('"')
    return params


@dataclass
class SipUri:
    """``sip:user@host:port;params`` — enough of RFC 3261 19.1 to route UDP requests."""
    scheme: str = "sip"
    user: str = ""
    host: str = ""
    port: int | None = None
    params: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> "SipUri":
        t = text.strip()
        if t.startswith("<") and t.endswith(">"):
            t = t[1:-1]
        scheme, sep, rest = t.partition(":")
        if not sep or scheme.lower() not in ("sip", "sips", "tel"):
            raise SipParseError(f"not a SIP URI: {text!r}")
        rest = rest.split("?", 1)[0]
        hostpart, *pp = rest.split(";")
        params = parse_params(";".join(pp))
        user = ""
        if "@" in hostpart:
            user, hostpart = hostpart.rsplit("@", 1)
        host, port = _host_port(hostpart, text)
        if scheme.lower() != "tel" and not host:
            raise SipParseError(f"SIP URI without host: {text!r}")
        return cls(scheme.lower(), user, host, port, params)

    @property
    def aor(self) -> str:
        """``user@host`` without port or params: how the ACD names queues and agents."""
        return f"{self.user}@{self.host}" if self.user else self.host

    def __str__(self) -> str:
        s = f"{self.scheme}:"
        if self.user:
            s += self.user + "@"
        s += f"[{self.host}]" if ":" in self.host else self.host
        if self.port:
            s += f":{self.port}"
        for k, v in self.params.items():
            s += f";{k}={v}" if v else f";{k}"
        return s


def _host_port(hostport: str, text: str) -> tuple[str, int | None]:
    """``host``, ``host:port``, ``[v6]`` or ``[v6]:port`` of a URI or a Via sent-by."""
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0 or hostport[end + 1:end + 2] not in ("", ":"):
            raise SipParseError(f"bad IPv6 reference in {text[:60]!r}")
        port = _port(hostport[end + 2:], text) if hostport[end + 1:end + 2] == ":" else None
        return hostport[1:end], port
    if ":" in hostport:
        host, p = hostport.rsplit(":", 1)
        return host, _port(p, text)
    return hostport, None


def _port(p: str, text: str) -> int:
    try:
        port = uint(p, 65535, "port")
    except ValueError as exc:
        raise SipParseError(f"bad port in {text[:60]!r}: {exc}") from None
    if port == 0:
        raise SipParseError(f"port 0 in {text[:60]!r}")
    return port


@dataclass
class NameAddr:
    """From/To/Contact/Route value: optional display name, URI, header params (tag, expires)."""
    uri: SipUri
    display: str = ""
    params: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> "NameAddr":
        t = text.strip()
        if "<" in t:
            lt = t.index("<")
            gt = t.find(">", lt)
            if gt < 0:
                raise SipParseError(f"unclosed '<' in {text!r}")
            display = t[:lt].strip().strip('"')
            uri = SipUri.parse(t[lt + 1:gt])
            params = parse_params(t[gt + 1:])
            return cls(uri, display, params)
        # addr-spec form: params after the URI belong to the header, not the URI (RFC 3261 20.10)
        base, _, rest = t.partition(";")
        return cls(SipUri.parse(base), "", parse_params(rest))

    @property
    def tag(self) -> str:
        return self.params.get("tag", "")

    def __str__(self) -> str:
        s = (f'"{self.display}" ' if self.display else "") + f"<{self.uri}>"
        for k, v in self.params.items():
            s += f";{k}={v}" if v else f";{k}"
        return s


@dataclass
class Via:
    transport: str
    host: str
    port: int | None
    params: dict[str, str]

    @classmethod
    def parse(cls, text: str) -> "Via":
        t = text.strip()
        proto, _, rest = t.partition(" ")
        parts = proto.split("/")
        if len(parts) != 3 or parts[0].upper() != "SIP":
            raise SipParseError(f"bad Via protocol in {text!r}")
        sentby, _, params = rest.strip().partition(";")
        sentby = sentby.strip()
        host, port = _host_port(sentby, text)
        if not host:
            raise SipParseError(f"Via without sent-by host: {text!r}")
        return cls(parts[2].upper(), host, port, parse_params(params))

    @property
    def branch(self) -> str:
        return self.params.get("branch", "")

    @property
    def sent_by(self) -> str:
        return f"{self.host}:{self.port or 5060}"


@dataclass
class SipMessage:
    """One request or response.  Headers keep their order; names are canonical."""
    method: str = ""            # requests
    uri: str = ""
    status: int = 0             # responses
    reason: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    _cache: dict = field(default_factory=dict, repr=False, compare=False)
    # The dialog an in-dialog request was built from (Dialog.request sets it): a request
    # re-sent with credentials takes CSeq + 1, and the dialog's local CSeq follows it.
    dialog: Any = field(default=None, repr=False, compare=False)

    @property
    def is_request(self) -> bool:
        return bool(self.method)

    # ---- header access -------------------------------------------------------------------
    def get(self, name: str, default: str = "") -> str:
        name = canonical(name)
        for k, v in self.headers:
            if k == name:
                return v
        return default

    def get_all(self, name: str) -> list[str]:
        name = canonical(name)
        out: list[str] = []
        for k, v in self.headers:
            if k == name:
                out.extend(split_list(v) if name in _LIST_HEADERS else [v])
        return out

    def set(self, name: str, value: str) -> None:
        """Replace every occurrence of ``name`` with one header (kept at the first position)."""
        self._cache.clear()
        name = canonical(name)
        for i, (k, _) in enumerate(self.headers):
            if k == name:
                self.headers[i] = (name, value)
                self.headers[i + 1:] = [h for h in self.headers[i + 1:] if h[0] != name]
                return
        self.headers.append((name, value))

    def add(self, name: str, value: str, first: bool = False) -> None:
        self._cache.clear()
        if first:
            self.headers.insert(0, (canonical(name), value))
        else:
            self.headers.append((canonical(name), value))

    def remove(self, name: str) -> None:
        self._cache.clear()
        name = canonical(name)
        self.headers = [h for h in self.headers if h[0] != name]

    # ---- typed shortcuts -----------------------------------------------------------------
    @property
    def call_id(self) -> str:
        return self.get("Call-ID")

    def _cached(self, key: str, make):
        """Parsed header objects are cached; set/add/remove clear the cache.  Code that edits
        ``headers`` directly must not rely on these afterwards (only builders do that)."""
        c = self._cache
        if key not in c:
            c[key] = make()
        return c[key]

    @property
    def cseq(self) -> tuple[int, str]:
        def make():
            num, _, method = self.get("CSeq").partition(" ")
            return int(num), method.strip()
        return self._cached("cseq", make)

    @property
    def from_(self) -> NameAddr:
        return self._cached("from", lambda: NameAddr.parse(self.get("From")))

    @property
    def to(self) -> NameAddr:
        return self._cached("to", lambda: NameAddr.parse(self.get("To")))

    @property
    def vias(self) -> list[Via]:
        return [Via.parse(v) for v in self.get_all("Via")]

    @property
    def top_via(self) -> Via:
        return self._cached("via", lambda: Via.parse(self.get_all("Via")[0]))

    @property
    def contact(self) -> NameAddr | None:
        c = self.get_all("Contact")
        return NameAddr.parse(c[0]) if c and c[0] != "*" else None

    @property
    def content_type(self) -> str:
        return self.get("Content-Type").split(";")[0].strip().lower()

    # ---- wire format ---------------------------------------------------------------------
    def encode(self) -> bytes:
        if self.method:
            lines = [f"{self.method} {self.uri} SIP/2.0"]
        else:
            lines = [f"SIP/2.0 {self.status} {self.reason or REASONS.get(self.status, 'Unknown')}"]
        for k, v in self.headers:
            if k != "Content-Length":
                lines.append(f"{k}: {v}")
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + self.body

    def __bytes__(self) -> bytes:
        return self.encode()


def parse(data: bytes) -> SipMessage:
    """Parse one UDP datagram into a :class:`SipMessage` or raise :class:`SipParseError`."""
    if not data or not data.strip():
        raise SipParseError("empty datagram (keep-alive?)")
    sep = data.find(b"\r\n\r\n")
    seplen = 4
    lf = data.find(b"\n\n")
    if sep < 0 or (0 <= lf < sep):
        sep, seplen = lf, 2
    if sep < 0:
        head, body = data, b""
    else:
        head, body = data[:sep], data[sep + seplen:]
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        raise SipParseError("header section is not UTF-8") from None
    raw_lines = text.replace("\r\n", "\n").split("\n")
    while raw_lines and not raw_lines[0].strip():   # RFC 3261 7.5: ignore leading CRLFs
        raw_lines.pop(0)
    if not raw_lines:
        raise SipParseError("no start line")
    start = raw_lines[0].strip()
    msg = SipMessage()
    if start.startswith("SIP/"):
        parts = start.split(" ", 2)
        if len(parts) < 2 or parts[0] != "SIP/2.0" or not is_uint(parts[1]) or len(parts[1]) != 3:
            raise SipParseError(f"bad status line {start[:60]!r}")
        msg.status = int(parts[1])
        if not 100 <= msg.status <= 699:
            raise SipParseError(f"status code out of range: {msg.status}")
        msg.reason = parts[2] if len(parts) > 2 else ""
    else:
        parts = start.split()
        if len(parts) != 3 or parts[2] != "SIP/2.0":
            raise SipParseError(f"bad request line {start[:60]!r}")
        method = parts[0]
        if not (method.isascii() and method.isalpha() and method.isupper()):
            raise SipParseError(f"bad method {method[:20]!r}")
        msg.method, msg.uri = method, parts[1]
        if ":" not in msg.uri:
            raise SipParseError(f"bad Request-URI {msg.uri[:60]!r}")
    # unfold continuation lines (RFC 3261 7.3.1)
    lines: list[str] = []
    for line in raw_lines[1:]:
        if line[:1] in (" ", "\t"):
            if not lines:
                raise SipParseError("continuation line before any header")
            lines[-1] += " " + line.strip()
        elif line.strip():
            lines.append(line)
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon or not name.strip() or " " in name.strip():
            raise SipParseError(f"header line without name: {line[:60]!r}")
        msg.headers.append((canonical(name), value.strip()))
    for h in (MANDATORY_REQ if msg.method else MANDATORY_RESP):
        if not msg.get(h):
            raise SipParseError(f"missing mandatory header {h}")
    seen: dict[str, str] = {}
    for k, v in msg.headers:
        if k in SINGLE and seen.setdefault(k, v) != v:
            raise SipParseError(f"two different {k} headers; a message has one")
    num, _, cmethod = msg.get("CSeq").partition(" ")
    try:
        seq = uint(num.strip(), 2**31 - 1, "CSeq number")
        for name, limit in (("Max-Forwards", 255), ("Expires", 2**32 - 1)):
            if any(k == name for k, _ in msg.headers):
                uint(msg.get(name), limit, name)
        present = any(k == "Content-Length" for k, _ in msg.headers)
        n = uint(msg.get("Content-Length"), 2**31 - 1, "Content-Length") if present else len(body)
    except ValueError as exc:
        raise SipParseError(str(exc)) from None
    if not cmethod.strip():
        raise SipParseError(f"bad CSeq {msg.get('CSeq')[:40]!r}: no method")
    msg.set("CSeq", f"{seq} {cmethod.strip()}")   # normalise padded CSeq
    if msg.method and cmethod.strip() != msg.method:
        raise SipParseError(f"CSeq method {cmethod.strip()!r} differs from request method {msg.method}")
    try:
        msg.vias
        msg.from_
        msg.to
        msg.contact
    except SipParseError:
        raise
    except (ValueError, IndexError) as exc:
        raise SipParseError(f"bad header value: {exc}") from None
    if n > len(body):
        raise SipParseError(f"body shorter ({len(body)}) than Content-Length {n}")
    body = body[:n]
    msg.body = body
    return msg


def make_response(req: SipMessage, status: int, reason: str = "", *, to_tag: str = "",
                  body: bytes = b"", content_type: str = "", extra: list[tuple[str, str]] | None = None
                  ) -> SipMessage:
    """A response copying Via/From/To/Call-ID/CSeq from ``req`` (RFC 3261 8.2.6.2)."""
    resp = SipMessage(status=status, reason=reason or REASONS.get(status, "Unknown"))
    for k, v in req.headers:
        if k in ("Via", "From", "Call-ID", "CSeq", "Record-Route"):
            resp.headers.append((k, v))
        elif k == "To":
            if to_tag and "tag=" not in v.lower():
                v = f"{v};tag={to_tag}"
            resp.headers.append((k, v))
    if extra:
        resp.headers.extend((canonical(k), v) for k, v in extra)
    if body:
        resp.headers.append(("Content-Type", content_type or "application/sdp"))
    resp.body = body
    return resp
