"""Digest authentication, the client's side (RFC 2617, RFC 7616; RFC 3261 22 and RFC 8760 for SIP).

Pure logic: :func:`parse_challenges` reads a ``WWW-Authenticate`` / ``Proxy-Authenticate``
value, :func:`response` computes the digest, and :class:`DigestClient` holds one user's
credentials and answers challenges (``Authorization`` for a 401, ``Proxy-Authorization`` for a
407).  Anything it cannot answer (no Digest challenge, a missing realm or nonce, an algorithm or
qop it does not know, control characters, a duplicated parameter) is one :class:`DigestError`
whose message starts "cannot answer this challenge"; nothing else is ever raised from a
challenge, whatever the peer sent.

Supported: algorithms MD5, MD5-sess, SHA-256, SHA-256-sess (and SHA-512-256[-sess] where
hashlib has it); qop ``auth`` (preferred) and ``auth-int``, or no qop at all (RFC 2069 style);
``userhash`` (RFC 7616 3.4.4); ``stale``.  With qop, each answer carries a fresh cnonce and the
nonce count (``nc``) counts the answers given to that nonce.  When a response carries several
challenges for one realm, the topmost one this client supports is answered (RFC 8760 2.4); each
realm gets its own answer.

Where it plugs in (decision): ONE place, the end of a client transaction.  ``ClientTxn._end``
asks its transport (``SipEndpoint.challenged``) before delivering a 401/407; when the endpoint
has a ``DigestClient`` for the peer the request went to, it re-sends the request ONCE with
credentials (same Call-ID and From tag, CSeq + 1, a new Via branch) and the first transaction
delivers whatever that retry ends with.  So REGISTER, INVITEs to agents, SUBSCRIBE and its
refreshes, un-SUBSCRIBE and requests outside dialogs all authenticate without their callers
knowing.  A retry challenged again fails with a clear reason ("the PBX refused the credentials
for user X (401 after digest)") unless the new challenge says ``stale=true`` (a nonce that
expired: answered again, at most twice more).  Credentials are only ever offered to the peer
they are for (``DigestClient.peer``), never to whoever happens to challenge.
"""
from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Callable

Addr = tuple[str, int]

#: Longest realm/nonce/opaque accepted (a datagram is 64 KB; nothing sane is near this).
MAX_VALUE = 1024

_HASHES = {"MD5": "md5", "SHA-256": "sha256", "SHA-512-256": "sha512_256"}
ALGORITHMS = tuple(name + sess for name, h in _HASHES.items() if h in hashlib.algorithms_available
                   for sess in ("", "-SESS"))

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BARE = re.compile(r"[^\s,\"]+")          # an unquoted value: a token, or token68 (base64 with =)


class DigestError(ValueError):
    """A challenge this client cannot answer; the message says why."""

    def __init__(self, why: str) -> None:
        super().__init__(f"cannot answer this challenge: {why}")


@dataclass(frozen=True)
class Challenge:
    """One Digest challenge as the server wrote it."""
    realm: str
    nonce: str
    algorithm: str = "MD5"        # upper case
    qop: tuple[str, ...] = ()     # the qop options offered, lower case
    opaque: str | None = None
    stale: bool = False
    userhash: bool = False
    spelled: str = ""             # algorithm= as the server wrote it ("" if absent): echoed back

    @property
    def supported(self) -> bool:
        return self.algorithm in ALGORITHMS and (not self.qop or bool({"auth", "auth-int"} & set(self.qop)))


def _scan(value: str) -> list[tuple[str, dict[str, str]]]:
    """``Scheme a=b, c="d", Scheme2 ...`` -> [(scheme, {param: value})]; DigestError if broken."""
    out: list[tuple[str, dict[str, str]]] = []
    i, n = 0, len(value)
    while True:
        while i < n and value[i] in " \t,":
            i += 1
        if i >= n:
            return out
        m = _TOKEN.match(value, i)
        if m is None:
            raise DigestError(f"unexpected {value[i]!r} at character {i}")
        word, i = m.group(), m.end()
        j = i
        while j < n and value[j] in " \t":
            j += 1
        if j >= n or value[j] != "=":
            out.append((word, {}))        # a new challenge's scheme
            continue
        if not out:
            raise DigestError(f"parameter {word!r} before any scheme")
        i = j + 1
        while i < n and value[i] in " \t":
            i += 1
        if i < n and value[i] == '"':
            text, i = _quoted(value, i)
        else:
            b = _BARE.match(value, i)
            if b is None:
                raise DigestError(f"parameter {word!r} has no value")
            text, i = b.group(), b.end()
        params = out[-1][1]
        key = word.lower()
        if key in params:
            raise DigestError(f"parameter {key!r} given twice")
        params[key] = text


def _quoted(value: str, i: int) -> tuple[str, int]:
    """The quoted-string starting at ``value[i]`` (a ``"``), unescaped, and where it ends."""
    out: list[str] = []
    i += 1
    while i < len(value):
        ch = value[i]
        if ch == "\\" and i + 1 < len(value):
            out.append(value[i + 1])
            i += 2
            continue
        if ch == '"':
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    raise DigestError("a quoted value is not closed")


def _clean(text: str, what: str, required: bool = True) -> str:
    if required and not text:
        raise DigestError(f"no {what}")
    if len(text) > MAX_VALUE:
        raise DigestError(f"{what} longer than {MAX_VALUE} characters")
    if any(not (" " <= ch <= "~") for ch in text):
        raise DigestError(f"{what} holds characters other than printable ASCII")
    return text


def parse_challenges(value: str) -> list[Challenge]:
    """Every Digest challenge in one header value (other schemes are skipped); DigestError if
    the value is broken or holds no Digest challenge."""
    if not isinstance(value, str):
        raise DigestError("not a header value")
    found: list[Challenge] = []
    for scheme, params in _scan(value):
        if scheme.lower() != "digest":
            continue
        if "realm" not in params:
            raise DigestError("no realm")
        realm = _clean(params["realm"], "realm", required=False)
        nonce = _clean(params.get("nonce", ""), "nonce")
        opaque = params.get("opaque")
        if opaque is not None:
            _clean(opaque, "opaque", required=False)
        spelled = _clean(params.get("algorithm", "MD5"), "algorithm")
        qop = tuple(q.strip().lower() for q in params.get("qop", "").split(",") if q.strip())
        found.append(Challenge(realm=realm, nonce=nonce, algorithm=spelled.upper(), qop=qop, opaque=opaque,
                               stale=params.get("stale", "").lower() == "true",
                               userhash=params.get("userhash", "").lower() == "true",
                               spelled=spelled if "algorithm" in params else ""))
    if not found:
        raise DigestError("no Digest challenge")
    return found


def _h(algorithm: str, text: str | bytes) -> str:
    name = _HASHES[algorithm.upper().removesuffix("-SESS")]
    data = text.encode("utf-8") if isinstance(text, str) else text
    return hashlib.new(name, data).hexdigest()


def response(algorithm: str, username: str, realm: str, password: str, nonce: str, method: str,
             uri: str, qop: str = "", nc: str = "", cnonce: str = "", body: bytes = b"") -> str:
    """The request-digest of RFC 2617 3.2.2.1 / RFC 7616 3.4.1 (hex)."""
    ha1 = _h(algorithm, f"{username}:{realm}:{password}")
    if algorithm.upper().endswith("-SESS"):
        ha1 = _h(algorithm, f"{ha1}:{nonce}:{cnonce}")
    a2 = f"{method}:{uri}"
    if qop == "auth-int":
        a2 += ":" + _h(algorithm, body)
    ha2 = _h(algorithm, a2)
    if qop:
        return _h(algorithm, f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
    return _h(algorithm, f"{ha1}:{nonce}:{ha2}")


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class DigestClient:
    """One user's credentials.  ``peer``: the only address challenges are answered for (None:
    any).  ``cnonce``: a maker of client nonces (tests pass a fixed one)."""

    def __init__(self, username: str, password: str, peer: Addr | None = None,
                 cnonce: Callable[[], str] = lambda: secrets.token_hex(8)) -> None:
        if not username or any(not (" " < ch <= "~") for ch in username):
            raise ValueError(f"digest user name {username!r} must be printable ASCII without spaces")
        self.username, self.password, self.peer, self.cnonce = username, password, peer, cnonce
        self.counts: dict[tuple[str, str], int] = {}   # (realm, nonce) -> answers given

    def serves(self, addr: Addr) -> bool:
        return self.peer is None or tuple(addr) == tuple(self.peer)

    def choose(self, values: list[str]) -> list[Challenge]:
        """Per realm, the topmost challenge this client supports (RFC 8760 2.4)."""
        chosen: dict[str, Challenge] = {}
        seen: list[str] = []
        errors: list[str] = []
        for v in values:
            try:
                challenges = parse_challenges(v)
            except DigestError as exc:
                errors.append(str(exc).removeprefix("cannot answer this challenge: "))
                continue
            for c in challenges:
                seen.append(f"{c.algorithm}/{','.join(c.qop) or 'no qop'}")
                if c.supported and c.realm not in chosen:
                    chosen[c.realm] = c
        if not chosen:
            why = "; ".join(errors) or (f"none of {', '.join(seen)} is supported (this client does "
                                        f"{', '.join(ALGORITHMS)} with qop auth, auth-int or none)"
                                        if seen else "no challenge header")
            raise DigestError(why)
        return list(chosen.values())

    def answer(self, challenge: Challenge, method: str, uri: str, body: bytes = b"") -> str:
        """The Authorization / Proxy-Authorization value answering ``challenge``."""
        c = challenge
        qop = "auth" if "auth" in c.qop else "auth-int" if "auth-int" in c.qop else ""
        if c.qop and not qop:
            raise DigestError(f"qop {','.join(c.qop)} is not supported")
        if c.algorithm not in ALGORITHMS:
            raise DigestError(f"algorithm {c.algorithm} is not supported")
        cnonce = self.cnonce() if qop or c.algorithm.endswith("-SESS") else ""
        key = (c.realm, c.nonce)
        count = self.counts.pop(key, 0) + 1
        self.counts[key] = count
        if len(self.counts) > 64:                 # bounded: forget the oldest nonces
            del self.counts[next(iter(self.counts))]
        nc = f"{count:08x}" if qop else ""
        user = _h(c.algorithm, f"{self.username}:{c.realm}") if c.userhash else self.username
        digest = response(c.algorithm, self.username, c.realm, self.password, c.nonce, method, uri,
                          qop, nc, cnonce, body)
        parts = [f"username={_q(user)}", f"realm={_q(c.realm)}", f"nonce={_q(c.nonce)}",
                 f"uri={_q(uri)}", f"response={_q(digest)}"]
        if c.spelled:
            parts.append(f"algorithm={c.spelled}")
        if cnonce:
            parts.append(f"cnonce={_q(cnonce)}")
        if c.opaque is not None:
            parts.append(f"opaque={_q(c.opaque)}")
        if qop:
            parts += [f"qop={qop}", f"nc={nc}"]
        if c.userhash:
            parts.append("userhash=true")
        return "Digest " + ", ".join(parts)

    def authorize(self, values: list[str], method: str, uri: str, body: bytes = b""
                  ) -> tuple[list[str], bool]:
        """Answers to the challenge header values of one 401/407 (one per realm), and whether
        any of the challenges answered said ``stale=true``.  DigestError when none can be."""
        chosen = self.choose(values)
        return [self.answer(c, method, uri, body) for c in chosen], any(c.stale for c in chosen)
