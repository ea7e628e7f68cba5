"""labkit stands alone: it names nothing outside its checkout, and it works pip-installed.

The unit test reads every tracked file for references to places outside the checkout
(the team's shared folder, a design guide that is not in the repository). The lab test
does what a teacher would: make a fresh virtual environment outside the clone,
`pip install` the clone into it, and run labkit from /tmp, where no checkout is in
sight; everything it needs must come from the installed package and
``<venv>/share/labkit``.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from labtest import leftovers

ROOT = Path(__file__).resolve().parents[1]

# Spelled in pieces so that this file does not match itself.
OUTSIDE = [re.escape("/wo" + "rk/"), re.escape(".." + "/shared"), re.escape("DESIGN" + ".md"),
           re.escape("shared/" + "seed")]


def tracked_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         cwd=ROOT, capture_output=True, check=True).stdout.decode()
    return [ROOT / f for f in out.split("\0") if f and (ROOT / f).is_file()]


def test_no_file_names_a_path_outside_the_checkout():
    pattern = re.compile("|".join(OUTSIDE))
    hits = []
    for path in tracked_files():
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue                      # binary data (prompts, captures)
        for n, line in enumerate(text.splitlines(), 1):
            if pattern.search(line):
                hits.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()[:100]}")
    assert hits == [], "files that point outside the checkout:\n" + "\n".join(hits)


def copy_of_the_clone(dest: Path) -> Path:
    """The checkout's files (tracked and new, not ignored) copied to `dest`.

    pip builds a local project in place (setuptools writes build/ and *.egg-info beside
    it), so the build runs on a copy and the working tree stays untouched.
    """
    for path in tracked_files():
        target = dest / path.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    return dest


def clean_env(venv: Path) -> dict[str, str]:
    """No PYTHONPATH or LABKIT_PATH: only the installed copy may be found."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LABKIT_PATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}"
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A fresh venv (Debian's python3, system site packages for mininet) with labkit pip-installed."""
    base = tmp_path_factory.mktemp("standalone")
    venv, clone, cwd = base / "venv", copy_of_the_clone(base / "clone"), base / "elsewhere"
    cwd.mkdir()
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--system-site-packages", str(venv)], check=True)
    pip = subprocess.run([str(venv / "bin/pip"), "install", "-q", "--disable-pip-version-check", str(clone)],
                         cwd=cwd, env=clean_env(venv), capture_output=True, text=True, timeout=600)
    assert pip.returncode == 0, pip.stdout + pip.stderr
    shutil.rmtree(clone)                  # the installed copy must not lean on the sources
    return venv, cwd


def run(installed, *argv: str, timeout: float = 180) -> subprocess.CompletedProcess:
    venv, cwd = installed
    return subprocess.run([str(venv / "bin" / argv[0]), *argv[1:]], cwd=cwd, env=clean_env(venv),
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.lab
def test_installed_copy_finds_its_trees_under_share(installed):
    venv, _ = installed
    p = run(installed, "python", "-c",
            "import labkit, labkit.paths as p, mininet; print(labkit.__file__); print(*p.roots())")
    assert p.returncode == 0, p.stderr
    module, roots = p.stdout.splitlines()
    assert Path(module).is_relative_to(venv)
    assert roots.split() == [str(venv / "share" / "labkit")]
    for rel in ("topologies/seed.yaml", "topologies/ec2/exampledomain.ca", "data/acd/welcome.ulaw",
                "data/sipp/uac_queue.xml", "data/seed/mutex-cmpxchg.asm"):
        assert (venv / "share/labkit" / rel).is_file(), rel


@pytest.mark.lab
def test_installed_labkit_lints_the_seed_from_elsewhere(installed):
    venv, _ = installed
    p = run(installed, "labkit", "lint", "seed")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "seed.yaml: topology valid" in p.stdout
    # the lint's findings name the installed files, and the seed's known zone mistake is among them
    zone = venv / "share/labkit/topologies/ec2/exampledomain.ca"
    assert any(line.startswith(f"{zone}:9:") and "NS target 'ns.'" in line
               for line in (p.stdout + p.stderr).splitlines()), p.stdout


@pytest.mark.lab
def test_installed_labkit_runs_the_seed_lab(installed):
    lab = "standalone"
    up = run(installed, "labkit", "up", "seed", "--lab", lab)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        check = run(installed, "labkit", "check", "--lab", lab)
        assert check.returncode == 0, check.stdout + check.stderr
        assert re.search(r"(\d+)/\1 checks passed", check.stdout), check.stdout
    finally:
        down = run(installed, "labkit", "down", "--lab", lab)
    assert down.returncode == 0 and f"lab '{lab}' is down" in down.stdout, down.stdout + down.stderr
    assert leftovers(lab) == []
