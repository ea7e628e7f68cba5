"""The mutation run (scripts/mutate.py) and its list (tests/mutants.yaml).

The list must stay usable: unique ids, test files that exist, snippets that apply to
this tree exactly once. The tool must tell killed from survived from stale, compute the
score from the first two, and never touch the tree it was pointed at.
"""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def mutate_module():
    spec = importlib.util.spec_from_file_location("mutate", ROOT / "scripts" / "mutate.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["mutate"] = mod          # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def test_the_list_applies_to_this_tree():
    mutate = mutate_module()
    mutants = mutate.load(ROOT / "tests" / "mutants.yaml")
    assert len({m.id for m in mutants}) == len(mutants)
    for topic in ("ios", "dns", "mail", "lab", "pbx"):
        assert sum(m.file.startswith(f"labkit/{topic}/") for m in mutants) >= 8, topic
    problems = []
    for m in mutants:
        if m.find == m.replace:
            problems.append(f"{m.id}: replacement equals the snippet")
        n = (ROOT / m.file).read_text().count(m.find) if (ROOT / m.file).is_file() else 0
        if n != 1:
            problems.append(f"{m.id}: snippet found {n} times in {m.file}")
        problems += [f"{m.id}: no test file {t}" for t in m.tests if not (ROOT / t).is_file()]
    assert problems == []


@pytest.fixture
def tiny_tree(tmp_path):
    """A three-file project in git: a function, its test, and a mutant list."""
    tree = tmp_path / "tree"
    (tree / "pkg").mkdir(parents=True)
    (tree / "tests").mkdir()
    (tree / "pkg" / "__init__.py").write_text("")
    (tree / "pkg" / "calc.py").write_text(textwrap.dedent("""\
        def is_adult(age):
            return age >= 18

        def label(n):
            return "many" if n > 1 else "one"
        """))
    (tree / "tests" / "test_calc.py").write_text(textwrap.dedent("""\
        from pkg.calc import is_adult

        def test_is_adult():
            assert is_adult(18) and not is_adult(17)
        """))
    (tree / "mutants.yaml").write_text(textwrap.dedent("""\
        - {id: flip, file: pkg/calc.py, find: "age >= 18", replace: "age > 18", tests: [tests/test_calc.py]}
        - {id: untested, file: pkg/calc.py, find: "n > 1", replace: "n >= 1", tests: [tests/test_calc.py]}
        - {id: moved, file: pkg/calc.py, find: "age >= 21", replace: "age > 21", tests: [tests/test_calc.py]}
        """))
    subprocess.run(["git", "init", "-q", str(tree)], check=True)
    subprocess.run(["git", "-C", str(tree), "add", "."], check=True)
    return tree


def test_killed_survived_stale_and_the_score(tiny_tree, tmp_path, capsys):
    mutate = mutate_module()
    before = (tiny_tree / "pkg" / "calc.py").read_text()
    out = tmp_path / "result.json"
    rc = mutate.main(["--tree", str(tiny_tree), "--mutants", str(tiny_tree / "mutants.yaml"),
                      "--json", str(out), "--min", "0.9"])
    result = json.loads(out.read_text())
    outcomes = {m["id"]: m["outcome"] for m in result["mutants"]}
    assert outcomes == {"flip": "killed", "untested": "survived", "moved": "stale"}
    assert result["score"] == 0.5 and rc == 1                 # below the bar
    assert "score 50%" in capsys.readouterr().out
    assert (tiny_tree / "pkg" / "calc.py").read_text() == before   # the tree itself is untouched
    assert mutate.main(["--tree", str(tiny_tree), "--mutants", str(tiny_tree / "mutants.yaml"),
                        "--only", "flip"]) == 0
