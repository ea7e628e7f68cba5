"""The files that describe labkit's environment agree with each other and with the tree.

requirements.txt (what scripts/setup.sh installs) is the runtime dependencies of
pyproject.toml plus its extras; environment.yml (conda) lists the same; and every file
under topologies/ and data/ is installed to share/labkit/ by a data-files entry, so a
`pip install` of the clone finds it (labkit.paths looks there).
"""
import fnmatch
import subprocess
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def requirements() -> set[str]:
    return {line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")}


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_environment_yml_lists_the_requirements():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert set(pip) == requirements()


def test_pyproject_dependencies_and_extras_are_the_requirements():
    project = pyproject()["project"]
    runtime = set(project.get("dependencies", []))
    extras = {d for group in project.get("optional-dependencies", {}).values() for d in group}
    assert runtime, "pyproject.toml [project] has no dependencies: a pip install would miss them"
    assert runtime | extras == requirements()
    assert not runtime & extras


def test_every_topology_and_data_file_is_installed_under_share():
    table = pyproject().get("tool", {}).get("setuptools", {}).get("data-files", {})
    assert table, "pyproject.toml has no [tool.setuptools.data-files]"
    files = subprocess.run(["git", "ls-files", "topologies", "data"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.split()
    missing = []
    for f in files:
        dest = "share/labkit/" + str(Path(f).parent)
        if not any(fnmatch.fnmatch(f, g) and "/" not in f[len(str(Path(g).parent)) + 1:]
                   for g in table.get(dest, [])):
            missing.append(f"{f} (add it to \"{dest}\")")
    assert missing == [], "not installed by pip:\n" + "\n".join(missing)
