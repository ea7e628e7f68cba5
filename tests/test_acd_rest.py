"""The REST API: the seed's JSON shapes, run-time changes, and a JSON error for every bad request."""
from __future__ import annotations

import asyncio
import json

import pytest

from labkit.acd.harness import AcdLab
from labkit.acd.rest import MAX_BODY
from labkit.acd.sip.transaction import Timers

CFG = {"queues": [{"name": "queue1"}, {"name": "queue2"}, {"name": "queue3"}],
       "agents": [{"id": "2771", "memberof": ["queue1", "queue2", "queue3"]},
                  {"id": "2772", "memberof": ["queue2"]}, {"id": "2773", "memberof": ["queue3"]}],
       "media": False, "login_hangup_delay": 0.05}


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 10))


async def raw(lab: AcdLab, data: bytes) -> tuple[int, dict, dict]:
    reader, writer = await asyncio.open_connection("127.0.0.1", lab.api.port)
    writer.write(data)
    await writer.drain()
    head = (await reader.readuntil(b"\r\n\r\n"))[:-4]
    lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    body = await reader.readexactly(int(headers["content-length"]))
    writer.close()
    return int(lines[0].split()[1]), headers, json.loads(body)


def test_seed_shapes_for_queues_and_agents():
    async def go():
        async with AcdLab(CFG, timers=Timers.scaled(0.05)) as lab:
            gw = await lab.gateway()
            task = asyncio.ensure_future(gw.call(lab.sip, "queue1", hold=0.5))
            await lab.wait_for(lambda: lab.acd.calls)
            st, h, doc = await lab.http("GET", "/queues")
            assert st == 200 and h["content-type"] == "application/json"
            assert [q["name"] for q in doc["queues"]] == ["queue1", "queue2", "queue3"]
            call = doc["queues"][0]["calls"][0]
            assert set(call) == {"id", "state", "from", "to"} and call["state"] == "waiting"
            assert call["from"] == f"gateway@{lab.sip[0]}" and call["to"].startswith("queue1@")
            assert doc["queues"][1]["calls"] == []
            _, _, ag = await lab.http("GET", "/agents")
            assert ag["agents"][1] == {"id": "2772", "state": "loggedout", "idletime": "0",
                                       "device": "", "memberof": ["queue2"]}
            _, _, calls = await lab.http("GET", "/calls")
            assert calls["calls"][0]["queue"] == "queue1"
            await task
            assert await lab.wait_for(lambda: not lab.acd.calls)
            _, _, doc = await lab.http("GET", "/queues")
            assert all(q["calls"] == [] for q in doc["queues"])
            _, _, stats = await lab.http("GET", "/stats")
            assert stats["queues"]["queue1"]["abandoned"] == 1 and stats["leaks"]["calls"] == 0
            _, _, ql = await lab.http("GET", "/queuelog")
            assert any("|ABANDON|" in line for line in ql["lines"])
    run(go())


def req(method: str, path: str, body: bytes, ctype: str = "application/json") -> bytes:
    """A well-formed HTTP request carrying ``body`` (the error is in the body, not the framing)."""
    return (f"{method} {path} HTTP/1.1\r\nContent-Type: {ctype}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


BAD = [
    # (request bytes, status)
    (b"GET /nope HTTP/1.1\r\n\r\n", 404),
    (b"GET /queues/nope HTTP/1.1\r\n\r\n", 404),
    (b"GET /agents/0000 HTTP/1.1\r\n\r\n", 404),
    (req("POST", "/calls/xyz/transfer", b"{\"to\":\"sip:a@b:1\"}\n"), 404),
    (b"PUT /queues HTTP/1.1\r\n\r\n", 405),
    (b"DELETE /agents HTTP/1.1\r\n\r\n", 405),
    (b"POST /queues HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi", 415),
    (b"POST /queues HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}", 415),
    (req("POST", "/queues", b"{\"name\":}"), 400),
    (b"POST /queues HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 0\r\n\r\n", 400),
    (b"POST /queues HTTP/1.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    (b"POST /queues HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: abc\r\n\r\n", 400),
    (b"GARBAGE\r\n\r\n", 400),
    (b"GET /queues HTTP/1.1\r\nNo colon here\r\n\r\n", 400),
    (b"get /queues HTTP/1.1\r\n\r\n", 400),
    (req("POST", "/queues", b"[]"), 422),
    (req("POST", "/queues", b"{}"), 422),
    (req("POST", "/queues", b"{\"name\":\"q9\",\"strategy\":\"loud\"}"), 422),
    (req("POST", "/queues", b"{\"name\":\"bad q\"}"), 422),
    (req("POST", "/agents", b"{\"id\":\"5\",\"memberof\":[\"no-queue\"]}"), 422),
    (req("POST", "/agents", b"{\"id\":\"x1\"}"), 422),
    (req("PATCH", "/agents/2771", b"{\"paused\":\"yes\"}"), 422),
    (req("PATCH", "/agents/2771", b"{\"colour\":1}"), 422),
    (req("POST", "/queues", b"{\"name\":\"queue1\"}"), 409),
    (b"POST /queues HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 99999999\r\n\r\n", 413),
    # numbers that parse badly: a non-ASCII digit, 5,000 digits, two different lengths
    ("POST /queues HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: \u00b2\r\n\r\n{}".encode(), 400),
    (b"POST /queues HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: " + b"9" * 5000 + b"\r\n\r\n", 400),
    (b"POST /queues HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
     b"Content-Length: 20\r\n\r\n{}", 400),
    (b"GET /queues HTTP/1.1\r\nContent-Length: -5\r\n\r\n", 400),
    # valid JSON that no JSON answer could carry: refused before anything is created
    (req("POST", "/queues", b'{"name":"qe","service_level":1e999}'), 422),
    (req("POST", "/queues", b'{"name":"qe","ring_timeout":-1e999}'), 422),
    (req("PATCH", "/agents/2771", b'{"memberof":["queue1"],"x":[1e400]}'), 422),
    (req("POST", "/queues", b'{"name":"qe","service_level":1e300}'), 422),
    (req("POST", "/agents", b'{"id":"\\u0661\\u0662"}'), 422),
    (req("POST", "/calls/x/transfer", b'{"to":"sip:a@no-such-host.example"}'), 404),
]


@pytest.mark.parametrize("req, status", BAD, ids=[f"{s}-{i}" for i, (_, s) in enumerate(BAD)])
def test_bad_requests_get_json_errors(req, status):
    async def go():
        async with AcdLab(CFG) as lab:
            st, headers, body = await raw(lab, req)
            assert st == status
            assert headers["content-type"] == "application/json"
            assert body["status"] == status and isinstance(body["error"], str) and body["error"]
            if status == 405:
                assert headers["allow"]
            # the server is still fine afterwards, and nothing was created or changed
            st2, _, doc = await lab.http("GET", "/queues")
            assert st2 == 200 and len(doc["queues"]) == 3
            st3, _, stats = await lab.http("GET", "/stats")
            assert st3 == 200 and set(stats["queues"]) == {"queue1", "queue2", "queue3"}
            _, _, agent = await lab.http("GET", "/agents/2771")
            assert agent["memberof"] == ["queue1", "queue2", "queue3"]
    run(go())


def test_infinite_service_level_is_refused_and_nothing_is_created():
    """It used to answer 500 *and* create the queue, after which GET /queues/qe and GET /stats
    answered 500 ("JSON has no inf") until the queue was deleted."""
    async def go():
        async with AcdLab(CFG) as lab:
            st, _, body = await lab.http("POST", "/queues", raw=b'{"name": "qe", "service_level": 1e999}',
                                         headers={"Content-Type": "application/json"})
            assert st == 422 and "$.service_level" in body["error"]
            assert (await lab.http("GET", "/queues/qe"))[0] == 404
            assert (await lab.http("GET", "/stats"))[0] == 200
    run(go())


def test_a_body_that_ends_early_or_a_head_that_never_ends_gets_a_json_answer(monkeypatch):
    monkeypatch.setattr("labkit.acd.rest.READ_TIMEOUT", 0.3)

    async def go():
        async with AcdLab(CFG) as lab:
            async def send(data: bytes, close: bool):
                reader, writer = await asyncio.open_connection("127.0.0.1", lab.api.port)
                writer.write(data)
                if close:
                    writer.write_eof()             # the client is done sending
                head = (await reader.readuntil(b"\r\n\r\n")).decode()
                body = json.loads(await reader.read())
                writer.close()
                return int(head.split()[1]), body
            st, body = await send(req("POST", "/queues", b'{"name": "q5"}')[:-3], close=True)
            assert st == 400 and "body ended after 11 of 14 bytes" in body["error"]
            st, body = await send(req("POST", "/queues", b'{"name": "q5"}')[:-3], close=False)
            assert st == 408 and body["status"] == 408
            st, body = await send(b"GET /queues HTTP/1.1\r\nHost: x\r\n", close=False)
            assert st == 408
            assert (await lab.http("GET", "/queues/q5"))[0] == 404
    run(go())


def test_body_limit_is_64_kib():
    async def go():
        async with AcdLab(CFG) as lab:
            assert MAX_BODY == 65536
            # a body of exactly MAX_BODY bytes is read and served
            doc = b'{"name": "q9"}'
            st, _, body = await raw(lab, req("POST", "/queues", doc + b" " * (MAX_BODY - len(doc))))
            assert st == 201 and body["name"] == "q9"
            # one byte more is refused from the header alone, before any body is sent
            over = (f"POST /queues HTTP/1.1\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {MAX_BODY + 1}\r\n\r\n").encode()
            st, _, body = await asyncio.wait_for(raw(lab, over), 5)
            assert (st, body) == (413, {"status": 413, "error": "body over 65536 bytes"})
            _, _, doc = await lab.http("GET", "/queues")
            assert [q["name"] for q in doc["queues"]] == ["queue1", "queue2", "queue3", "q9"]
    run(go())


def test_keepalive_and_unknown_call_transfer_target():
    async def go():
        async with AcdLab(CFG, timers=Timers.scaled(0.05)) as lab:
            reader, writer = await asyncio.open_connection("127.0.0.1", lab.api.port)
            for _ in range(3):
                writer.write(b"GET /agents HTTP/1.1\r\nHost: x\r\n\r\n")
                await writer.drain()
                head = await reader.readuntil(b"\r\n\r\n")
                n = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
                assert json.loads(await reader.readexactly(n))["agents"]
            writer.close()
            gw = await lab.gateway()
            task = asyncio.ensure_future(gw.call(lab.sip, "queue2", hold=0.3))
            await lab.wait_for(lambda: lab.acd.calls)
            cid = next(iter(lab.acd.calls))
            st, _, body = await lab.http("POST", f"/calls/{cid}/transfer", {"to": "mailto:x@y"})
            assert st == 422 and "sip:" in body["error"]
            await task
    run(go())
