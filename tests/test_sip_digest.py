"""Digest authentication as a SIP client (labkit.acd.sip.digest) and its one place in the
endpoint: a request challenged with 401/407 is re-sent once with credentials.

The RFC worked examples are reproduced to the letter; generated challenge headers, well-formed
and broken, either get an answer or the one clean "cannot answer this challenge" error.  The
endpoint tests run two real UDP endpoints on 127.0.0.1; the challenger checks the digest with
hashlib itself, not with the module under test.
"""
from __future__ import annotations

import asyncio
import hashlib
import re

import pytest
from hypothesis import example, given, settings, strategies as st

from labkit.acd.sip import digest
from labkit.acd.sip.digest import DigestClient, DigestError, parse_challenges
from labkit.acd.sip.endpoint import Dialog, SipEndpoint
from labkit.acd.sip.message import new_tag
from labkit.acd.sip.transaction import Timers, auth_refused

T = Timers.scaled(0.02)


def fields(header: str) -> dict[str, str]:
    """The auth-params of an Authorization value (quoted or not), for assertions."""
    assert header.startswith("Digest ")
    return {k.lower(): v1 if v1 else v2
            for k, v1, v2 in re.findall(r'(\w+)=(?:"((?:[^"\\]|\\.)*)"|([^,\s]+))', header[7:])}


# ---- the RFCs' own examples ----------------------------------------------------------------
def test_rfc2617_section_3_5_worked_example():
    challenge = ('Digest realm="testrealm@host.com", qop="auth,auth-int", '
                 'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"')
    client = DigestClient("Mufasa", "Circle Of Life", cnonce=lambda: "0a4f113b")
    [c] = parse_challenges(challenge)
    assert (c.realm, c.qop, c.algorithm, c.stale) == ("testrealm@host.com", ("auth", "auth-int"), "MD5", False)
    header = client.answer(c, "GET", "/dir/index.html")
    f = fields(header)
    assert f == {"username": "Mufasa", "realm": "testrealm@host.com",
                 "nonce": "dcd98b7102dd2f0e8b11d0f600bfb0c093", "uri": "/dir/index.html",
                 "qop": "auth", "nc": "00000001", "cnonce": "0a4f113b",
                 "response": "6629fae49393a05397450978507c4ef1",
                 "opaque": "5ccc069c403ebaf9f0171e9517f40e41"}
    # the same nonce answered again counts up (nc), with a new digest
    again = fields(client.answer(c, "GET", "/dir/index.html"))
    assert again["nc"] == "00000002" and again["response"] != f["response"]


@pytest.mark.parametrize("algorithm,expected", [
    ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
    ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
])
def test_rfc7616_section_3_9_1_examples(algorithm, expected):
    challenge = (f'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm={algorithm}, '
                 'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", '
                 'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"')
    client = DigestClient("Mufasa", "Circle of Life",
                          cnonce=lambda: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ")
    [answer], stale = client.authorize([challenge], "GET", "/dir/index.html")
    f = fields(answer)
    assert not stale
    assert f["response"] == expected and f["algorithm"] == algorithm and f["qop"] == "auth"
    assert f["nc"] == "00000001" and f["cnonce"] == "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"


def test_no_qop_and_sess_and_auth_int_follow_the_formulas():
    md5 = lambda s: hashlib.md5(s.encode()).hexdigest()   # noqa: E731
    ha1, ha2 = md5("u:r:pw"), md5("REGISTER:sip:10.0.0.1")
    assert digest.response("MD5", "u", "r", "pw", "n", "REGISTER", "sip:10.0.0.1") == md5(f"{ha1}:n:{ha2}")
    sess = md5(f"{ha1}:n:c")
    assert digest.response("MD5-sess", "u", "r", "pw", "n", "REGISTER", "sip:10.0.0.1", "auth", "00000001",
                           "c") == md5(f"{sess}:n:00000001:c:auth:{ha2}")
    ha2i = md5(f"INVITE:sip:x:{hashlib.md5(b'v=0').hexdigest()}")
    assert digest.response("MD5", "u", "r", "pw", "n", "INVITE", "sip:x", "auth-int", "00000001", "c",
                           b"v=0") == md5(f"{ha1}:n:00000001:c:auth-int:{ha2i}")
    # a challenge without qop is answered without cnonce, qop, nc (RFC 2069 style)
    f = fields(DigestClient("u", "pw").authorize(['Digest realm="r", nonce="n"'], "REGISTER",
                                                  "sip:10.0.0.1")[0][0])
    assert set(f) == {"username", "realm", "nonce", "uri", "response"} and f["response"] == md5(f"{ha1}:n:{ha2}")


def test_nc_counts_the_answers_to_each_nonce_in_eight_hex_digits():
    md5 = lambda s: hashlib.md5(s.encode()).hexdigest()   # noqa: E731
    client = DigestClient("u", "pw", cnonce=lambda: "c")
    [one] = parse_challenges('Digest realm="r", nonce="n1", qop="auth"')
    answers = [fields(client.answer(one, "REGISTER", "sip:10.0.0.1")) for _ in range(17)]
    assert [f["nc"] for f in answers] == [f"{k:08x}" for k in range(1, 18)]
    assert [answers[k]["nc"] for k in (8, 9, 15, 16)] == ["00000009", "0000000a", "00000010", "00000011"]
    ha1, ha2 = md5("u:r:pw"), md5("REGISTER:sip:10.0.0.1")
    assert all(f["response"] == md5(f"{ha1}:n1:{f['nc']}:c:auth:{ha2}") for f in answers)   # over the nc sent
    # a new nonce (of the same realm) is counted from 1; the first one goes on where it was
    [two] = parse_challenges('Digest realm="r", nonce="n2", qop="auth"')
    assert fields(client.answer(two, "REGISTER", "sip:10.0.0.1"))["nc"] == "00000001"
    assert fields(client.answer(one, "REGISTER", "sip:10.0.0.1"))["nc"] == "00000012"


def test_auth_int_is_answered_over_the_request_body():
    md5 = lambda s: hashlib.md5(s if isinstance(s, bytes) else s.encode()).hexdigest()   # noqa: E731
    body = b"v=0\r\no=- 1 1 IN IP4 10.0.0.2\r\n"
    client = DigestClient("u", "pw", cnonce=lambda: "c")
    [answer], _ = client.authorize(['Digest realm="r", nonce="n", qop="auth-int"'], "INVITE", "sip:q@x", body)
    f = fields(answer)
    ha1, ha2 = md5("u:r:pw"), md5(f"INVITE:sip:q@x:{md5(body)}")
    assert (f["qop"], f["nc"], f["cnonce"]) == ("auth-int", "00000001", "c")
    assert f["response"] == md5(f"{ha1}:n:00000001:c:auth-int:{ha2}")


def test_the_topmost_supported_challenge_of_each_realm_is_answered():
    client = DigestClient("u", "pw", cnonce=lambda: "c")
    answers, _ = client.authorize(['Digest realm="a", nonce="1", algorithm=SHA-999',
                                   'Digest realm="a", nonce="2", algorithm=SHA-256, qop="auth"',
                                   'Digest realm="a", nonce="3", qop="auth"',
                                   'Basic realm="x", Digest realm="b", nonce="4", stale=TRUE'],
                                  "INVITE", "sip:x@y")
    got = [fields(a) for a in answers]
    assert [(f["realm"], f["nonce"], f.get("algorithm")) for f in got] == [("a", "2", "SHA-256"), ("b", "4", None)]
    assert client.authorize(['Digest realm="b", nonce="4", stale=TRUE'], "X", "sip:x")[1] is True


@pytest.mark.parametrize("value,why", [
    ('Basic realm="x"', "no Digest challenge"),
    ('Digest nonce="n"', "no realm"),
    ('Digest realm="r"', "no nonce"),
    ('Digest realm="r", nonce="n", algorithm=SHA-999', "SHA-999"),
    ('Digest realm="r", nonce="n", qop="auth-conf"', "auth-conf"),
    ('Digest realm="r", realm="s", nonce="n"', "given twice"),
    ('Digest realm="r", nonce="n', "not closed"),
    ('Digest realm="r\r\nX-Evil: 1", nonce="n"', "printable ASCII"),
    ('realm="r", nonce="n"', "before any scheme"),
    ("", "no Digest challenge"),
])
def test_unanswerable_challenges_say_why(value, why):
    with pytest.raises(DigestError) as err:
        DigestClient("u", "pw").authorize([value], "REGISTER", "sip:x")
    assert str(err.value).startswith("cannot answer this challenge: ") and why in str(err.value)


# ---- generated challenges: an answer, or the one clean error ------------------------------
PARAM = st.sampled_from(["realm", "nonce", "qop", "algorithm", "opaque", "stale", "domain", "userhash",
                         "charset", "x", "REALM"])
VALUE = st.one_of(st.text(max_size=30), st.sampled_from(["MD5", "md5-sess", "SHA-256", "SHA-512-256",
                                                         "auth", "auth,auth-int", "true", "FALSE", ""]))


@st.composite
def well_formed(draw) -> str:
    scheme = draw(st.sampled_from(["Digest", "digest", "DIGEST", "Basic", "Bearer"]))
    params = draw(st.dictionaries(PARAM, VALUE, max_size=7))
    def show(v: str) -> str:
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return scheme + " " + ", ".join(f"{k}={show(v)}" for k, v in params.items())


@st.composite
def mutated(draw) -> str:
    text = draw(well_formed())
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["cut", "insert", "drop"]))
        if op == "cut":
            text = text[:at]
        elif op == "insert":
            text = text[:at] + draw(st.text(alphabet=' ",=\\\t\r\n\x00,;ÿ', max_size=3)) + text[at:]
        else:
            text = text[:at] + text[at + 1:]
    return text


HASHLIB = {"MD5": "md5", "SHA-256": "sha256", "SHA-512-256": "sha512_256"}


def expected_username(f: dict[str, str], user: str) -> str:
    """The username an answer must carry: the user, or with userhash=true H(user:realm) (RFC 7616
    3.4.4), hashed with the answer's algorithm (MD5 when it names none)."""
    if f.get("userhash") != "true":
        return user
    name = HASHLIB[f.get("algorithm", "MD5").upper().removesuffix("-SESS")]
    return hashlib.new(name, f"{user}:{f['realm']}".encode()).hexdigest()


@settings(max_examples=1500, deadline=None, derandomize=True)
@example(values=['Digest nonce="0", userhash="TRUE", realm=""'], method="REGISTER")   # username hashed
@given(values=st.lists(st.one_of(well_formed(), mutated(), st.text(max_size=80)), min_size=0, max_size=3),
       method=st.sampled_from(["REGISTER", "INVITE", "SUBSCRIBE"]))
def test_generated_challenges_get_an_answer_or_a_clean_refusal(values, method):
    client = DigestClient("acdserver", "s3cret", cnonce=lambda: "abc")
    try:
        answers, stale = client.authorize(values, method, "sip:10.9.1.1:5060", b"v=0")
    except DigestError as exc:
        assert str(exc).startswith("cannot answer this challenge: ")
        return
    assert answers and isinstance(stale, bool)
    for a in answers:
        f = fields(a)
        assert f["username"] == expected_username(f, "acdserver")
        assert re.fullmatch(r"[0-9a-f]{32}|[0-9a-f]{64}", f["response"])
        assert all(" " <= ch <= "~" for ch in a)     # nothing a peer sent can break our header


# ---- the endpoint's one place: 401/407 -> once again with credentials ---------------------
class Challenger:
    """A UAS that challenges by ``rule(req, n)`` -> status (401/407/403/200...) and checks the
    credentials it gets with hashlib (MD5, qop=auth), independently of the module under test."""

    def __init__(self, rule, realm="pbx", password="s3cret", stale_first=False):
        self.rule, self.realm, self.password = rule, realm, password
        self.requests, self.valid = [], []
        self.nonce = 0
        self.ep = None

    def check(self, req, header) -> bool:
        value = req.get(header)
        if not value:
            return False
        f = fields(value)
        md5 = lambda s: hashlib.md5(s.encode()).hexdigest()   # noqa: E731
        ha1 = md5(f"{f['username']}:{self.realm}:{self.password}")
        ha2 = md5(f"{req.method}:{f['uri']}")
        want = md5(f"{ha1}:{f['nonce']}:{f['nc']}:{f['cnonce']}:auth:{ha2}")
        return f["uri"] == req.uri and f["response"] == want

    def on_request(self, req, txn):
        self.requests.append(req)
        status = self.rule(req, len(self.requests))
        if status in (401, 407):
            self.nonce += 1
            name = "WWW-Authenticate" if status == 401 else "Proxy-Authenticate"
            stale = ", stale=true" if isinstance(self.rule, StaleOnce) and self.nonce == 2 else ""
            txn.respond(txn.response(status, to_tag=new_tag(), extra=[
                (name, f'Digest realm="{self.realm}", nonce="n{self.nonce}", qop="auth"{stale}')]))
            return
        self.valid.append(self.check(req, "Authorization") or self.check(req, "Proxy-Authorization"))
        if req.method == "INVITE" and status == 200:
            tag = new_tag()
            self.ep.send_2xx(txn, txn.response(200, to_tag=tag, extra=[("Contact", f"<{self.ep.uri('x')}>")]))
            return
        txn.respond(txn.response(status, to_tag=new_tag()))

    def on_ack(self, req):
        self.requests.append(req)

    def on_cancel(self, invite):
        pass


class StaleOnce:
    """401 to the first request; the credentials of the second are 'stale'; the third passes."""

    def __call__(self, req, n):
        return 401 if n <= 2 else 200


class Client:
    def on_request(self, req, txn):
        txn.respond(txn.response(200))

    def on_ack(self, req):
        pass

    def on_cancel(self, invite):
        pass


async def pair(rule, user="acdserver", password="s3cret", peer=True):
    srv_tu = Challenger(rule)
    srv = await SipEndpoint.listen(srv_tu, "127.0.0.1", 0, timers=T)
    srv_tu.ep = srv
    cli = await SipEndpoint.listen(Client(), "127.0.0.1", 0, timers=T)
    cli.auth = DigestClient(user, password, peer=(srv.host, srv.port) if peer else ("127.0.0.1", 9))
    return srv, srv_tu, cli


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


def test_a_challenged_request_is_sent_once_more_with_credentials():
    async def go():
        srv, tu, cli = await pair(lambda req, n: 401 if n == 1 else 200)
        req = cli.new_request("REGISTER", srv.uri(), "<sip:q1@127.0.0.1>", "<sip:q1@127.0.0.1>", cseq=7)
        txn = cli.send_request(req, (srv.host, srv.port))
        resp = await txn.final
        assert resp.status == 200 and tu.valid == [True]
        first, second = tu.requests
        assert (second.call_id, second.from_.tag) == (first.call_id, first.from_.tag)
        assert (first.cseq[0], second.cseq[0]) == (7, 8) and second.top_via.branch != first.top_via.branch
        assert fields(second.get("Authorization"))["username"] == "acdserver"
        assert txn.request.cseq[0] == 8 and cli.stats["auth_retries"] == 1
        srv.close(); cli.close()
    run(go())


def test_refused_credentials_fail_with_a_clear_reason_after_one_retry():
    async def go():
        srv, tu, cli = await pair(lambda req, n: 401, password="wrong")
        req = cli.new_request("REGISTER", srv.uri(), "<sip:q1@127.0.0.1>", "<sip:q1@127.0.0.1>")
        resp = await cli.send_request(req, (srv.host, srv.port)).final
        assert resp.status == 401 and len(tu.requests) == 2
        assert auth_refused(resp) == "the PBX refused the credentials for user acdserver (401 after digest)"
        assert cli.stats["auth_failures"] == 1
        srv.close(); cli.close()
    run(go())


def test_a_stale_nonce_is_answered_again():
    async def go():
        srv, tu, cli = await pair(StaleOnce())
        req = cli.new_request("OPTIONS", srv.uri(), "<sip:a@127.0.0.1>", f"<{srv.uri()}>")
        resp = await cli.send_request(req, (srv.host, srv.port)).final
        assert resp.status == 200 and [r.cseq[0] for r in tu.requests] == [1, 2, 3]
        srv.close(); cli.close()
    run(go())


def test_an_invite_challenged_by_a_proxy_is_acked_and_resent():
    async def go():
        srv, tu, cli = await pair(lambda req, n: 407 if n == 1 else 200)
        req = cli.new_request("INVITE", srv.uri("agent"), "<sip:acd@127.0.0.1>", f"<{srv.uri('agent')}>")
        txn = cli.send_request(req, (srv.host, srv.port))
        resp = await txn.final
        assert resp.status == 200 and tu.valid == [True]
        d = Dialog.as_uac(txn.request, resp, cli.uri("acd"))
        cli.send_ack(d, txn.request.cseq[0])
        await asyncio.sleep(0)
        ok = await wait(lambda: sum(r.method == "ACK" for r in tu.requests) == 1)
        assert ok
        invite1, invite2 = [r for r in tu.requests if r.method == "INVITE"]
        assert invite2.get("Proxy-Authorization") and invite2.cseq[0] == invite1.cseq[0] + 1
        # the ACK of the 2xx carries the retried INVITE's CSeq (the 407's ACK is the transaction's)
        assert await wait(lambda: [r.cseq[0] for r in tu.requests if r.method == "ACK"] == [2])
        srv.close(); cli.close()
    run(go())


def test_in_dialog_requests_follow_the_retry_cseq():
    async def go():
        srv, tu, cli = await pair(lambda req, n: 401 if n == 1 else 200)
        d = Dialog(call_id="c1@x", local_tag="t1", remote_tag="t2", local_uri="<sip:a@127.0.0.1>",
                   remote_uri="<sip:b@127.0.0.1>", remote_target=srv.uri("b"), local_contact=cli.uri("a"))
        r1 = await cli.send_request(d.request("SUBSCRIBE"), d.destination()).final
        r2 = await cli.send_request(d.request("SUBSCRIBE"), d.destination()).final
        assert r1.status == r2.status == 200
        assert [r.cseq[0] for r in tu.requests] == [2, 3, 4]    # the next in-dialog CSeq is above the retry's
        srv.close(); cli.close()
    run(go())


def test_credentials_go_only_to_their_peer():
    async def go():
        srv, tu, cli = await pair(lambda req, n: 401, peer=False)
        req = cli.new_request("REGISTER", srv.uri(), "<sip:q1@127.0.0.1>", "<sip:q1@127.0.0.1>")
        resp = await cli.send_request(req, (srv.host, srv.port)).final
        assert resp.status == 401 and len(tu.requests) == 1 and not auth_refused(resp)
        assert not any(r.get("Authorization") for r in tu.requests)
        srv.close(); cli.close()
    run(go())


async def wait(pred, timeout=5.0):
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end:
        if pred():
            return True
        await asyncio.sleep(0.01)
    return bool(pred())
