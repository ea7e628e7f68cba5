"""labkit.acd.daemon.AcdDaemon: the one description the lab service, the rigs and serve share."""
from __future__ import annotations

import sys

import pytest

from labkit.acd import serve
from labkit.acd.core import ConfigError
from labkit.acd.daemon import AcdDaemon

CFG = {"media": True, "queues": [{"name": "q1"}], "agents": [{"id": "2771", "memberof": ["q1"]}]}


def test_argv_round_trips_through_serve_options(tmp_path):
    path = AcdDaemon.render(tmp_path / "acd.yaml", CFG)
    d = AcdDaemon(path, sip=("10.0.0.1", 5060), http=("0.0.0.0", 242), queue_log=tmp_path / "ql",
                  media=False, timer_scale=0.5)
    argv = d.argv(["taskset", "-c", "0"])
    assert argv[:5] == ["taskset", "-c", "0", sys.executable, "-m"]
    assert argv[5] == "labkit.acd.serve"
    back = AcdDaemon.from_args(serve.parser().parse_args(argv[6:]))
    assert (back.config, back.sip, back.http, str(back.queue_log), back.media, back.timer_scale) == \
        (path, d.sip, d.http, str(d.queue_log), False, 0.5)
    assert d.ports == [("udp", 5060), ("tcp", 242)]


def test_load_applies_overrides_and_reports_bad_config(tmp_path):
    cfg = AcdDaemon(dict(CFG), media=False, queue_log="ql").load()
    assert cfg.media is False and cfg.queue_log == "ql" and [q.name for q in cfg.queues] == ["q1"]
    assert AcdDaemon(dict(CFG)).load().media is True
    bad = AcdDaemon.render(tmp_path / "bad.yaml", {"queues": [{"name": "q1"}], "nonsense": 1})
    with pytest.raises(ConfigError, match="unknown key"):
        AcdDaemon(bad).load()
    with pytest.raises(ValueError, match="render"):
        AcdDaemon(dict(CFG)).argv()


def test_serve_options_reject_a_bad_address():
    args = serve.parser().parse_args(["--config", "x", "--sip", "nope"])
    with pytest.raises(SystemExit, match="ADDR:PORT"):
        AcdDaemon.from_args(args)


# ---- every setting, generated: a bad value is one ConfigError naming it, a good one loads ----
from hypothesis import given, settings, strategies as st  # noqa: E402

from labkit.acd.core import BRIDGES, MAX_SECONDS, MIN_SECONDS, config_from_dict  # noqa: E402

JUNK = st.one_of(st.none(), st.text(max_size=20), st.lists(st.integers(), max_size=3),
                 st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
                 st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**30, 10**30),
                 st.booleans())
SECONDS = ("ring_timeout", "announce_every", "digit_timeout")
SECONDS_OR_ZERO = ("wrapup", "probe_interval", "login_hangup_delay")


def good(key, value) -> bool:
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if key in SECONDS:
        return number and MIN_SECONDS <= value <= MAX_SECONDS
    if key in SECONDS_OR_ZERO:
        return number and (value == 0 or MIN_SECONDS <= value <= MAX_SECONDS)
    if key == "autopause_after":
        return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 1000
    if key == "subscribe_expires":
        return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 86400
    if key == "bridge":
        return value in BRIDGES
    if key == "media":
        return isinstance(value, bool)
    if key == "domain":
        return isinstance(value, str)
    if key == "queue_log":
        return value == ""                      # anything else names a file to open
    other = {"login_user": "acdlogout", "logout_user": "acdlogin"}[key]
    return isinstance(value, str) and bool(value) and len(value) <= 64 and all(
        (c.isascii() and c.isalnum()) or c in "-_.*" for c in value) and value not in (
        "q1", other, "2771")          # login/logout user: not a queue, the other one, an agent


KEYS = sorted(SECONDS + SECONDS_OR_ZERO + ("autopause_after", "subscribe_expires", "bridge", "media",
                                           "domain", "queue_log", "login_user", "logout_user"))


@settings(max_examples=1500, deadline=None, derandomize=True)
@given(key=st.sampled_from(KEYS), value=st.one_of(JUNK, st.sampled_from(BRIDGES)))
def test_every_setting_is_checked_before_the_acd_starts(key, value):
    """A value of the wrong type, out of range, infinite or NaN is one ConfigError that names
    the setting (it used to be coerced: ring_timeout: "15" passed, bridge was never checked);
    every good value loads as given."""
    data = {**CFG, key: value}
    if key == "queue_log" and isinstance(value, str) and value:
        value = data[key] = "/nonexistent-dir/queue_log"        # a file it cannot write
    if good(key, value):
        assert getattr(config_from_dict(data, "acd.yaml"), key) == value
    else:
        with pytest.raises(ConfigError) as err:
            config_from_dict(data, "acd.yaml")
        assert str(err.value).startswith(f"acd.yaml: {key} must ")


@settings(max_examples=600, deadline=None, derandomize=True)
@given(queue=st.dictionaries(st.sampled_from(["name", "strategy", "ring_timeout", "service_level"]),
                             st.one_of(JUNK, st.sampled_from(["q", "mia", "ringall"])), max_size=4),
       agent=st.one_of(JUNK, st.fixed_dictionaries({"id": JUNK}),
                       st.fixed_dictionaries({"id": st.text("0123456789\u00b2\u0661", max_size=18)})))
def test_queues_and_agents_are_checked_too(queue, agent):
    """Whatever is thrown at a queue or agent entry either loads as something the ACD can use
    (an ASCII SIP user, ASCII digits to key in, finite seconds) or is one ConfigError."""
    import math
    try:
        cfg = config_from_dict({"queues": [queue], "agents": [agent]}, "acd.yaml")
    except ConfigError as exc:
        assert str(exc).startswith("acd.yaml: ")
        return
    [q], [a] = cfg.queues, cfg.agents
    assert q.name.isascii() and q.name and q.strategy in ("mia", "ringall")
    assert all(math.isfinite(v) and MIN_SECONDS <= v <= MAX_SECONDS
               for v in (q.service_level, q.ring_timeout or 1))
    assert a.id.isascii() and a.id.isdigit() and len(a.id) <= 16
