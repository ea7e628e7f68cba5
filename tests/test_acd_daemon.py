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
