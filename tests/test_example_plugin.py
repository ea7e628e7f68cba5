"""A teacher's own package adds a service kind and a check kind through the entry point alone.

The example plug-in under examples/labkit-example is pip-installed (editable) into this
environment, a topology that uses its `banner` service and `banner` check is brought up,
checked and torn down with the real CLI, and the plug-in is uninstalled again.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from labtest import labkit_cli, leftovers

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "labkit-example"
TOPO = EXAMPLE / "topologies" / "example.yaml"


def pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args],
                   check=True, capture_output=True, timeout=300)


@pytest.fixture(scope="module")
def installed():
    pip("install", "--no-deps", "-e", str(EXAMPLE))
    try:
        yield
    finally:
        pip("uninstall", "-y", "labkit-example")


def test_without_the_plugin_the_kinds_are_unknown():
    p = labkit_cli("lint", str(TOPO), check=False)
    if "labkit-example" in subprocess.run([sys.executable, "-m", "pip", "list"], capture_output=True,
                                          text=True).stdout:
        pytest.fail("the example plug-in is installed before its test ran; uninstall it")
    assert p.returncode == 2
    assert "example.yaml:8: unknown service type 'banner'" in p.stderr


def test_lint_validates_the_plugins_declared_params(installed, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(TOPO.read_text().replace("port: 2323, text", "port: 99999, text"))
    p = labkit_cli("lint", str(bad), check=False)
    assert p.returncode == 2
    assert f"{bad}:8: port '99999' is not a port number" in p.stderr


@pytest.mark.lab
def test_up_check_down_with_the_plugin(installed):
    labkit_cli("up", str(TOPO), "--lab", "explug", "--replace")
    try:
        report = labkit_cli("check", "--lab", "explug", check=False)
        assert report.returncode == 0, report.stdout + report.stderr
        assert "banner cli -> srv:2323 says 'welcome'" in report.stdout
        assert "said 'welcome to the example lab'" in report.stdout
        assert "3/3 checks passed" in report.stdout
    finally:
        labkit_cli("down", "--lab", "explug")
    assert leftovers("explug") == []
