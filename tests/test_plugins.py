"""The plug-in registry and its failure modes, without root (pure logic plus the CLI's output)."""
from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from labkit import cli
from labkit.lab import plugins
from labkit.lab.checks import run_checks
from labkit.lab.model import Check
from labkit.lab.params import Param
from labkit.lab.plugins import CheckKind, Plugin, PluginError, Registry, ServiceKind
from labkit.diag import Where


def fake_entry_points(monkeypatch, extra: list[metadata.EntryPoint]):
    real = metadata.entry_points(group=plugins.GROUP)
    monkeypatch.setattr(plugins.metadata, "entry_points", lambda group: [*real, *extra])
    plugins.registry.cache_clear()


@pytest.fixture(autouse=True)
def fresh_registry():
    plugins.registry.cache_clear()
    yield
    plugins.registry.cache_clear()


def test_labkit_registers_its_own_kinds_through_the_entry_points():
    reg = plugins.registry()
    assert {p.name for p in reg.plugins} >= {"core", "ios", "dns", "mail", "acd"}
    assert reg.owner[("checks", "reach")] == "core" and reg.owner[("checks", "dns")] == "dns"
    assert reg.owner[("services", "bind")] == "dns" and reg.owner[("expanders", "ios")] == "ios"
    assert reg.udp_payloads[53]()[2:4] == b"\x01\x00"   # a DNS query: QR=0, RD=1


def test_two_plugins_declaring_one_kind_is_an_error_naming_both():
    reg = Registry()
    reg.add(Plugin("a", checks=[CheckKind("ping2", "m:f", {})]))
    with pytest.raises(PluginError, match="plug-ins 'a' and 'b' both declare check 'ping2'"):
        reg.add(Plugin("b", checks=[CheckKind("ping2", "m:g", {})]))


def test_an_entry_point_reusing_a_labkit_name_is_refused_not_skipped(monkeypatch):
    fake_entry_points(monkeypatch, [metadata.EntryPoint("dns", "labkit_example.plugin:plugin", plugins.GROUP)])
    with pytest.raises(PluginError, match="two plug-ins are both named 'dns'"):
        plugins.registry()


def test_a_plugin_that_fails_to_import_is_named(monkeypatch):
    fake_entry_points(monkeypatch, [metadata.EntryPoint("broken", "no_such_module_xyz:plugin", plugins.GROUP)])
    with pytest.raises(PluginError, match=r"plug-in 'broken' \(no_such_module_xyz:plugin\) failed to load"):
        plugins.registry()


def test_an_unknown_parameter_type_is_refused_when_the_plugin_registers():
    reg = Registry()
    with pytest.raises(PluginError, match="parameter 'port' of 'web' has type 'int'"):
        reg.add(Plugin("t", services=[ServiceKind("web", "m:C", {"port": Param("int")})]))


def test_a_check_that_raises_fails_alone_and_the_others_still_run(monkeypatch):
    def boom(ctx, p):
        raise RuntimeError("plug-in bug")

    def fine(ctx, p):
        return True, "ok"

    reg = Registry()
    reg.add(Plugin("t", checks=[CheckKind("boom", "x:boom", {}), CheckKind("fine", "x:fine", {})]))
    monkeypatch.setattr(plugins, "_load", lambda ref, what: {"x:boom": boom, "x:fine": fine}[ref])
    monkeypatch.setattr("labkit.lab.checks.registry", lambda: reg)
    where = Where("t.yaml", 3)
    report = run_checks(None, [Check("boom", {}, where, "boom"), Check("fine", {}, where, "fine")], lambda _: None)
    assert [r.ok for r in report.results] == [False, True]
    assert report.results[0].detail == "the check itself failed: RuntimeError: plug-in bug"
    assert "1/2 checks passed" in report.table()


def test_a_broken_plugin_gives_one_line_not_a_traceback(monkeypatch, capsys):
    def broken():
        raise PluginError("plug-in 'x' (x:plugin) failed to load: SyntaxError: bad")
    monkeypatch.setattr(cli, "registry", broken)
    assert cli.main(["lint", "seed"]) == 2
    err = capsys.readouterr().err
    assert err == "labkit: plug-in 'x' (x:plugin) failed to load: SyntaxError: bad\n"


def _cli(*args: str, run_root: Path) -> subprocess.CompletedProcess:
    env = {"LABKIT_RUN": str(run_root), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(cli.__file__).parents[1])}
    return subprocess.run([sys.executable, "-m", "labkit.cli", *args], capture_output=True, text=True,
                          env=env, timeout=60)


def _fake_lab(run_root: Path, name: str) -> None:
    (run_root / name).mkdir(parents=True)
    (run_root / name / "state.json").write_text(json.dumps({"instance": name, "topology": "seed", "status": "up"}))


def test_with_several_labs_up_a_command_without_lab_refuses_and_lists_them(tmp_path):
    _fake_lab(tmp_path, "one")
    _fake_lab(tmp_path, "two")
    for cmd in ("check", "down", "exec"):
        p = _cli(cmd, *(["pc1"] if cmd == "exec" else []), run_root=tmp_path)
        assert p.returncode == 2, p.stderr
        assert p.stderr == "labkit: 2 labs are up (one, two); say which with --lab NAME\n"
    assert (tmp_path / "one" / "state.json").exists() and (tmp_path / "two" / "state.json").exists()


def test_status_json_is_one_document_for_several_labs(tmp_path):
    _fake_lab(tmp_path, "one")
    _fake_lab(tmp_path, "two")
    p = _cli("status", "--json", run_root=tmp_path)
    assert p.returncode == 0, p.stderr
    assert [s["instance"] for s in json.loads(p.stdout)] == ["one", "two"]
