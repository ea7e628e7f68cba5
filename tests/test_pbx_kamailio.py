"""labkit.pbx.kamailio: the seed's dial plan rendered for Kamailio, and what Kamailio itself says.

`kamailio -c` (Kamailio's own parser, not ours) must accept the rendered config of the seed
files; a broken dial-plan file never reaches it (the dial-plan reader refuses it with its
file:line), and a config Kamailio refuses stops bring-up with Kamailio's parse error. The
kamcmd printout parser is checked on generated nested records."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from labkit import paths
from labkit.pbx import dialplan, kamailio

needs_kamailio = pytest.mark.skipif(shutil.which("kamailio") is None, reason="kamailio not installed")
SEED = (paths.topology("acd", "sip.conf"), paths.topology("acd", "extensions.conf"))


def seed_plan() -> dialplan.Dialplan:
    return dialplan.load(*SEED)


@needs_kamailio
def test_kamailio_accepts_the_rendered_seed_dial_plan(tmp_path):
    plan = seed_plan()
    cfg = tmp_path / "kamailio.cfg"
    cfg.write_text(kamailio.render(plan, "192.168.2.5", 5060, tmp_path, "sip.conf and extensions.conf"))
    kamailio.make_db(plan, tmp_path, "192.168.2.5")
    p = subprocess.run(["kamailio", "-c", "-f", str(cfg)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr[-2000:]


def test_each_context_and_extension_becomes_a_route():
    text = kamailio.render(seed_plan(), "192.168.2.5", 5060, Path("/run/x"))
    for ctx in ("acdserver", "phones", "fxo"):
        assert f"route[CTX_{ctx}]" in text and f"route(CTX_{ctx})" in text
    assert 'if ($rU == "*44")' in text and '$var(duser) = "acdlogin";' in text
    assert 'if (pcre_match("$rU", "^queue.+\\\\z"))' in text
    # the seed's two acdserver lines: SUBSCRIBEs from the ACD use acdpresence's hint
    assert 'if ($var(peer) == "acdserver") { route(SUB_acdpresence); exit; }' in text
    # the gateway is known by its address; everyone else authenticates
    assert '$si == "192.168.2.2"' in text and "proxy_authorize" in text and "www_authorize" in text


def test_subscriber_rows_are_the_peers_with_a_secret(tmp_path):
    import sqlite3

    plan = seed_plan()
    kamailio.make_db(plan, tmp_path, "192.168.2.5")
    with sqlite3.connect(tmp_path / "auth.sqlite") as db:
        rows = sorted(db.execute("SELECT username, domain, password FROM subscriber"))
    assert rows == sorted((p.name, "192.168.2.5", p.secret) for p in plan.peers.values() if p.secret)
    assert {r[0] for r in rows} == {"acdserver", "phone1", "phone2"}


@pytest.mark.parametrize("name", ['a"b', "a\\b", "x y"])
def test_strings_are_quoted_for_kamailio(name):
    q = kamailio.quote(name)
    assert q.startswith('"') and q.endswith('"') and q.count('"') - q.count('\\"') == 2


@needs_kamailio
def test_a_config_kamailio_refuses_stops_bring_up_with_its_own_message(tmp_path):
    """The service's dry run, on a config with a line Kamailio cannot parse."""
    from labkit.lab.errors import ServiceError
    from labkit.pbx.service import PbxService

    class Refused(PbxService):                    # only check() and cfg_path are used
        cfg_path = tmp_path / "kamailio.cfg"
        label = "pbx/pbx (test)"

    svc = Refused.__new__(Refused)
    svc.params, svc.name = {}, "pbx"
    Refused.cfg_path.write_text("#!KAMAILIO\nloadmodule \"nosuchmodule.so\"\n")
    with pytest.raises(ServiceError) as exc:
        svc.check()
    assert "kamailio -c" in str(exc.value) and "nosuchmodule" in str(exc.value)


# -- kamcmd's printout ------------------------------------------------------------------
keys = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-", min_size=1, max_size=8)
scalars = st.text(alphabet="abcxyz0123456789@.:;=/-_", min_size=1, max_size=20)
records = st.recursive(scalars, lambda inner: st.dictionaries(keys, inner, min_size=1, max_size=4), max_leaves=15)


def printed(value, key: str | None, depth: int) -> list[str]:
    pad = "\t" * depth
    if isinstance(value, dict):
        head = f"{pad}{key}: {{" if key is not None else f"{pad}{{"
        return [head, *[ln for k, v in value.items() for ln in printed(v, k, depth + 1)], f"{pad}}}"]
    return [f"{pad}{key}: {value}"]


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.dictionaries(keys, records, min_size=1, max_size=4))
def test_kamcmd_printout_parses_back_to_the_record(record):
    assert kamailio.parse_kamcmd("\n".join(printed(record, None, 0)))[""] == record


def test_registrations_reads_aors_and_contacts_from_ul_dump():
    contact = lambda addr: {"Address": addr, "Expires": "293", "Q": "-1"}  # noqa: E731
    dump = {"Domains": {"Domain": {"Domain": "location", "Size": "1024", "AoRs": {
        "Info": [{"AoR": "phone1", "HashID": "1", "Contacts": {"Contact": contact("sip:phone1@192.168.2.101:5060")}},
                 {"AoR": "queue1", "HashID": "2", "Contacts": {"Contact": contact("sip:queue1@192.168.2.10:5060")}}]}}}}
    lines = ["{", "\tDomains: {", "\t\tDomain: {", "\t\t\tDomain: location", "\t\t\tSize: 1024", "\t\t\tAoRs: {"]
    for info in dump["Domains"]["Domain"]["AoRs"]["Info"]:
        lines += printed(info, "Info", 4)
    lines += ["\t\t\t}", "\t\t}", "\t}", "}"]
    assert kamailio.registrations("\n".join(lines)) == {
        "phone1": ["sip:phone1@192.168.2.101:5060"], "queue1": ["sip:queue1@192.168.2.10:5060"]}


# -- what the rendered routes decide, request by request ------------------------------------
# The lines checked here are single-line `if (COND) { ... }` statements over pseudo-variables;
# they are evaluated as Kamailio would for one request, so the tests say who gets through.
ADDR = "192.168.2.5"


def route_lines(text: str, name: str) -> list[str]:
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith(f"route[{name}]"))
    end = next(i for i in range(start, len(lines)) if lines[i] == "}")
    return [ln.strip() for ln in lines[start + 1:end]]


def python_of(expr: str) -> str:
    """A Kamailio condition or string expression of the rendered config as Python over V."""
    e = re.sub(r'is_method\("(\w+)"\)', r'(V["method"] == "\1")', expr)
    e = re.sub(r"\$(var|avp)\((\w+)\)", r'V["\1(\2)"]', e)
    e = re.sub(r"\$(\w+)", r'V["\1"]', e)
    e = e.replace("&&", " and ").replace("||", " or ")
    return re.sub(r"!(?!=)", " not ", e)


IF = re.compile(r"if \((.*?)\) \{ (.*) \}(?:\s*#.*)?")


def holds(cond: str, env: dict) -> bool:
    return bool(eval(python_of(cond), {"V": env}))   # noqa: S307 (our own rendered text)


def identify(text: str, method: str, si: str) -> str | None:
    """The static peer a request from `si` is taken for without digest, or None (it must authenticate)."""
    for line in route_lines(text, "IDENTIFY"):
        m = IF.fullmatch(line)
        if m and "$si" in m.group(1) and holds(m.group(1), {"method": method, "si": si}):
            return re.search(r'\$var\(peer\) = "([^"]*)"', m.group(2)).group(1)
    return None


def register_verdict(text: str, au: str, to_user: str, from_user: str) -> str:
    """What REGISTRAR does with a REGISTER authenticated as `au` for the AOR `to_user`."""
    for line in route_lines(text, "REGISTRAR"):
        m = IF.fullmatch(line)
        if m and "sl_send_reply" in m.group(2) and holds(m.group(1), {"au": au, "tU": to_user, "fU": from_user}):
            return re.search(r'sl_send_reply\("(\d+)"', m.group(2)).group(1)
    return "save"


def published(text: str, peer: str, from_user: str, dpeer: str, to_user: str) -> dict[str, str]:
    """The pua_dialoginfo AVPs RELAY sets for a call from `peer` routed to `dpeer`."""
    env = {"var(peer)": peer, "fU": from_user, "var(dpeer)": dpeer, "tU": to_user}
    out = {}
    for line in route_lines(text, "RELAY"):
        if m := re.fullmatch(r"\$var\((\w+)\) = \$var\((\w+)\);", line):
            env[f"var({m.group(1)})"] = env[f"var({m.group(2)})"]
        elif (m := IF.fullmatch(line)) and m.group(2).startswith("$avp(") and holds(m.group(1), env):
            target, _, value = m.group(2).rstrip(";").partition(" = ")
            out[target.removeprefix("$avp(").removesuffix(")")] = eval(python_of(value), {"V": env})  # noqa: S307
    return out


def seed_text() -> str:
    return kamailio.render(seed_plan(), ADDR, 5060, Path("/run/x"))


@pytest.mark.parametrize("method, si, peer", [
    ("INVITE", "192.168.2.2", "gateway"),        # the static peer, known by its address
    ("OPTIONS", "192.168.2.2", "gateway"),
    ("REGISTER", "192.168.2.2", None),           # a REGISTER from its address still authenticates
    ("INVITE", "192.168.2.3", None),
    ("INVITE", "192.168.2.22", None),
])
def test_only_a_static_peers_address_skips_digest_and_never_for_register(method, si, peer):
    assert identify(seed_text(), method, si) == peer


@pytest.mark.parametrize("au, to_user, from_user, verdict", [
    ("phone1", "phone1", "phone1", "save"),      # its own name
    ("acdserver", "queue1", "queue1", "save"),   # any AOR that is no peer's name
    ("acdserver", "acdlogin", "acdserver", "save"),
    ("phone1", "phone2", "phone1", "403"),       # another peer's name
    ("phone1", "phone2", "phone2", "403"),       # ... also with a From that claims to be it
    ("acdserver", "phone1", "phone1", "403"),
    ("phone1", "gateway", "phone1", "403"),      # a static peer's name is a peer's name too
])
def test_a_peer_registers_its_own_aor_or_one_no_peer_has(au, to_user, from_user, verdict):
    assert register_verdict(seed_text(), au, to_user, from_user) == verdict


@pytest.mark.parametrize("peer, from_user, dpeer, to_user, avps", [
    ("phone1", "phone1", "phone2", "phone2", {"pub_caller": "phone1", "pub_callee": "phone2"}),
    ("phone1", "phone1", "acdserver", "*44", {"pub_caller": "phone1"}),      # acdlogin is no device
    ("gateway", "5551234", "queue1", "queue1", {}),                          # gateway to a queue: none
    ("gateway", "gateway", "queue1", "queue1", {}),                          # a static peer is no device
    ("acdserver", "5551234", "phone1", "phone1", {"pub_callee": "phone1"}),  # the ACD relays a caller
])
def test_dialog_states_are_published_for_the_device_ends_only(peer, from_user, dpeer, to_user, avps):
    got = published(seed_text(), peer, from_user, dpeer, to_user)
    assert got == {k: f"sip:{v}@{ADDR}" for k, v in avps.items()}


def test_a_key_repeated_three_times_is_one_list_of_three():
    contacts = [f"sip:phone1@192.168.2.{n}:5060" for n in (101, 102, 103)]
    lines = ["{", "\tDomains: {", "\t\tDomain: {", "\t\t\tAoRs: {"]
    for aor, addrs in (("phone1", contacts), ("queue1", ["sip:queue1@192.168.2.10:5060"]), ("queue2", []),
                       ("queue3", ["sip:queue3@192.168.2.10:5060"])):
        lines += ["\t\t\t\tInfo: {", f"\t\t\t\t\tAoR: {aor}", "\t\t\t\t\tContacts: {"]
        for a in addrs:
            lines += ["\t\t\t\t\t\tContact: {", f"\t\t\t\t\t\t\tAddress: {a}", "\t\t\t\t\t\t\tExpires: 3", "\t\t\t\t\t\t}"]
        lines += ["\t\t\t\t\t}", "\t\t\t\t}"]
    lines += ["\t\t\t}", "\t\t}", "\t}", "}"]
    text = "\n".join(lines)
    infos = kamailio.parse_kamcmd(text)[""]["Domains"]["Domain"]["AoRs"]["Info"]
    assert [i["AoR"] for i in infos] == ["phone1", "queue1", "queue2", "queue3"]
    assert [c["Address"] for c in infos[0]["Contacts"]["Contact"]] == contacts
    assert kamailio.registrations(text) == {"phone1": contacts, "queue1": ["sip:queue1@192.168.2.10:5060"],
                                            "queue2": [], "queue3": ["sip:queue3@192.168.2.10:5060"]}
