"""The pbx service kind at load time: the topology loader reads the dial plan (the kind's
`validate` hook), so a bad line is a TopologyError at that line before anything is built."""
from __future__ import annotations

import pytest

from labkit import paths
from labkit.lab import loader
from labkit.lab.errors import TopologyError


def copy_lab(tmp_path, extensions: str | None = None):
    acd = paths.topology("acd")
    for name in ("sip.conf", "acd.yaml", "pbx.yaml", "extensions.conf"):
        (tmp_path / name).write_text((acd / name).read_text())
    if extensions is not None:
        (tmp_path / "extensions.conf").write_text(extensions)
    return tmp_path / "pbx.yaml"


def test_the_seed_pbx_lab_loads():
    topo = loader.load(str(paths.topology("acd", "pbx.yaml")))
    [spec] = topo.nodes["pbx"].services
    assert spec.kind == "pbx" and spec.params["port"] == 5060


@pytest.mark.parametrize("bad, message", [
    ("exten => *44,1,Queue(sales)", "Queue() is not supported"),
    ("exten => *44,1,Dial(SIP/nosuchpeer/acdlogin)", "nosuchpeer"),
    ("[phones", "["),
])
def test_a_bad_dial_plan_line_is_a_load_error_at_that_line(tmp_path, bad, message):
    text = paths.topology("acd", "extensions.conf").read_text().splitlines()
    at = next(i for i, ln in enumerate(text) if ln.startswith("exten => *44"))
    text[at] = bad
    topo = copy_lab(tmp_path, "\n".join(text) + "\n")
    with pytest.raises(TopologyError) as exc:
        loader.load(str(topo))
    assert f"extensions.conf:{at + 1}:" in str(exc.value) and message in str(exc.value)
    assert "\n" not in str(exc.value).strip()
