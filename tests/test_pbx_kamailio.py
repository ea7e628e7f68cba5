"""labkit.pbx.kamailio: the seed's dial plan rendered for Kamailio, and what Kamailio itself says.

`kamailio -c` (Kamailio's own parser, not ours) must accept the rendered config of the seed
files; a broken dial-plan file never reaches it (the dial-plan reader refuses it with its
file:line), and a config Kamailio refuses stops bring-up with Kamailio's parse error. The
kamcmd printout parser is checked on generated nested records."""
from __future__ import annotations

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

    svc = PbxService.__new__(PbxService)          # only check() and cfg_path are used
    svc.params, svc.name, svc.kind = {}, "pbx", "pbx"
    (tmp_path / "kamailio.cfg").write_text("#!KAMAILIO\nloadmodule \"nosuchmodule.so\"\n")
    type(svc).cfg_path = property(lambda self: tmp_path / "kamailio.cfg")
    type(svc).label = property(lambda self: "pbx/pbx (test)")
    try:
        with pytest.raises(ServiceError) as exc:
            svc.check()
    finally:
        del type(svc).cfg_path
        del type(svc).label
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
