"""Generated broken topologies: the loader answers each with a Topology or one clear error line.

Hypothesis mutates topologies/seed.yaml and tests/topologies/tiny.yaml structurally (any
node's value replaced by another YAML type or another part of the file, keys deleted,
renamed or added) and as text (truncated, lines duplicated or dropped, YAML syntax or
random bytes inserted, re-encoded). Every file is loaded by a worker process with a time
limit, so a hang fails the test instead of stalling it, and a crash of the interpreter
(a deep recursion, memory) is seen as a crash.

The property: `labkit.lab.load()` returns a Topology, or raises exactly one
TopologyError whose text is one line, starts with the path of the file at fault and
carries a "(fix: ...)". Any other exception, or no answer within LOAD_TIMEOUT, fails.
Runs are derandomized (same inputs every run, no example database), so CI is reproducible.
"""
from __future__ import annotations

import copy
import json
import os
import select
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from labkit import paths
from labtest import ROOT

LOAD_TIMEOUT = 10.0   # seconds for one load; a normal one takes ~15 ms
SOURCES = {"seed": paths.topology("seed.yaml"), "tiny": ROOT / "tests" / "topologies" / "tiny.yaml"}
TEXTS = {name: p.read_text() for name, p in SOURCES.items()}
DOCS = {name: yaml.safe_load(text) for name, text in TEXTS.items()}
FUZZ = settings(derandomize=True, database=None, deadline=None, print_blob=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])



# The worker loads one file per request line and answers one JSON line. Its own stdout is
# moved to stderr, so nothing the loader prints can corrupt the answers.
WORKER = r"""
import json, os, resource, sys, traceback
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
out = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)
from labkit.lab import TopologyError, load
from labkit.lab.model import Topology
out.write("ready\n"); out.flush()
for line in sys.stdin:
    try:
        topo = load(line.rstrip("\n"))
        answer = {"kind": "topology" if isinstance(topo, Topology) else type(topo).__name__}
    except TopologyError as exc:
        answer = {"kind": "error", "text": str(exc), "count": len(exc.diagnostics)}
    except BaseException as exc:
        answer = {"kind": "crash", "text": traceback.format_exc()}
    out.write(json.dumps(answer) + "\n"); out.flush()
"""


class Worker:
    """One long-lived loader process; restarted after a hang (which also fails the test)."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.loads = 0

    def start(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", WORKER], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                     cwd=ROOT, env=os.environ.copy())
        assert self._answer(60) == "ready", "the loader worker did not start"

    def _answer(self, timeout: float) -> str | None:
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        return self.proc.stdout.readline().rstrip("\n") if ready else None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None

    def load(self, path: Path) -> dict:
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        self.loads += 1
        self.proc.stdin.write(f"{path}\n")
        self.proc.stdin.flush()
        line = self._answer(LOAD_TIMEOUT)
        if line is None:
            self.stop()
            return {"kind": "hang", "text": f"no answer within {LOAD_TIMEOUT} s"}
        if not line:
            code = self.proc.wait(10)
            self.proc = None
            return {"kind": "crash", "text": f"the loader process died (exit status {code})"}
        return json.loads(line)


@pytest.fixture(scope="module")
def worker():
    w = Worker()
    yield w
    w.stop()
    print(f"\n{w.loads} generated topology files loaded")


@pytest.fixture(scope="module")
def lab_dir(tmp_path_factory) -> Path:
    """A copy of topologies/ (the files seed.yaml names) to write mutated files into."""
    d = tmp_path_factory.mktemp("fuzz") / "topologies"
    shutil.copytree(SOURCES["seed"].parent, d)
    return d


def check(worker: Worker, lab_dir: Path, data: bytes, what: str) -> None:
    path = lab_dir / "fuzz.yaml"
    path.write_bytes(data)
    answer = worker.load(path)
    head = f"{what}: {answer['kind']}\n--- input (first 2000 bytes) ---\n{data[:2000]!r}\n---\n"
    assert answer["kind"] in ("topology", "error"), head + answer["text"]
    if answer["kind"] == "error":
        text = answer["text"]
        assert answer["count"] == 1 and "\n" not in text, head + text
        assert "(fix:" in text, head + text
        named = Path(text.split(":", 1)[0])
        assert named == path or (named.is_file() and lab_dir in named.parents), head + text


# -- structural mutations -----------------------------------------------------------------

def nodes(doc, path=()):
    """Every node of a parsed document, as a path of keys and indexes from the root."""
    yield path
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from nodes(v, path + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from nodes(v, path + (i,))


def subtree(doc, path):
    for k in path:
        doc = doc[k]
    return doc


def parts(name: str):
    """Any part of the original file, copied when drawn: mutations never touch DOCS."""
    doc = DOCS[name]
    return st.sampled_from([p for p in nodes(doc)]).map(lambda p: copy.deepcopy(subtree(doc, p)))


WORDS = ["dhcp", "eth0", "fa0-1", "10.0.0.1/24", "10.0.0.1", "1.2.3.4/24", "default via 10.0.0.1",
         "default via ...", "h1", "pc1", "sw3550", "isp", "router.ios", "sw3550.ios", "ec2/named.conf",
         "25/tcp", "99999/tcp", "80", "http", "bind", "authdns", "A", "MX", "BOGUS", "host", "router",
         "l3switch", "switch", "a -- b", "pc1:eth0 -- pc2:eth0", "r1:eth0 -- h1:eth0", "--", ":", "",
         " ", "~", "2001-02-30", "2001-02-03", "0x1F", "1e400", ".inf", ".nan", "yes", "no", "null",
         "\x1b[31mred", "\t", "é", "\u202e", "a" * 300, "x/" * 50, "\x00",
         # link ends on IOS-managed nodes go through the IOS plug-in's port names
         "router:vlan99999 -- isp:eth9", "sw3550:fa0-99 -- pc1:eth3", "sw3550:vlan1 -- pc2:eth2",
         "router:dialer1 -- sw3550:fa0-1", "router:fa0-0-0-0 -- acd", "sw3550 -- phone2", "r1:eth7 -- sw:p1",
         # extends: a base beside the file, one elsewhere, itself, and trunk/spanning-tree values
         "seed.yaml", "seed-svi.yaml", "../seed.yaml", "nope.yaml", "rstp", "stp", "pvst"]
scalars = (st.none() | st.booleans() | st.integers() | st.integers(-(10**40), 10**40)
           | st.floats() | st.dates() | st.sampled_from(WORDS)
           | st.text(st.characters(exclude_categories=("Cs",)), max_size=30))
keys = st.sampled_from(["role", "interfaces", "services", "routes", "gateway", "dns", "svis", "ios",
                        "address", "addresses", "vlan", "trunk", "dhcp", "type", "port", "from", "to",
                        "name", "nodes", "links", "checks", "vlans", "pos", "label", "config", "zonefile",
                        "reach", "dns", "port_open", "h1", "pc1", "eth0", "eth9", "extends", "native",
                        "stp"]) \
    | st.integers(-5, 5000) | st.text(max_size=8)
values = st.recursive(scalars, lambda kids: st.lists(kids, max_size=4)
                      | st.dictionaries(keys, kids, max_size=4), max_leaves=12)


@st.composite
def structural(draw, name: str) -> bytes:
    doc = copy.deepcopy(DOCS[name])
    other = parts(name)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(list(nodes(doc))))
        op = draw(st.sampled_from(["replace", "replace", "from-file", "delete", "rename", "add"]))
        if not path:
            if op == "replace":
                doc = draw(values)
            continue
        parent, key = subtree(doc, path[:-1]), path[-1]
        if op == "replace":
            parent[key] = draw(values)
        elif op == "from-file":    # another part of the same file: the right shape elsewhere
            parent[key] = draw(other)
        elif op == "delete":
            del parent[key]
        elif op == "rename" and isinstance(parent, dict):
            parent[draw(keys)] = parent.pop(key)
        elif op == "add" and isinstance(parent, dict):
            parent[draw(keys)] = draw(values | other)
        elif op == "add":
            parent.insert(key, draw(values | other))
    text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, default_flow_style=draw(st.sampled_from([False, None, True])))
    return text.encode("utf-8")


# -- text mutations ---------------------------------------------------------------------------

SYNTAX = ["&a ", "*a", "&a [x, *a]", "!!int ", "!!bool ", "!!timestamp ", "!!float ", "!!binary ",
          "!!python/object/apply:os.system ['true']", "!!set ", "!!omap ", "<<: ", "<<: {a: 1}", "? ",
          "[", "]", "{", "}", ": ", "- ", "-", "\t", "\n", "---\n", "...\n", "%YAML 1.1\n", "%TAG ! x\n",
          "|\n", ">-\n", "'", '"', "#", "\\", "@", "`", "%", ",", "\r", "\ufeff", "\x85", "\x1b", "\x7f",
          "\u2028", "[" * 200, "- " * 200, "{a: " * 80]
ENCODINGS = ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "latin-1", "cp1252", "utf-8-sig"]


@st.composite
def textual(draw, name: str) -> bytes:
    text = TEXTS[name]
    lines = text.splitlines(keepends=True)
    op = draw(st.sampled_from(["truncate", "dup-line", "drop-line", "move-line", "indent", "syntax",
                               "bytes", "flip-byte", "encoding", "latin1-word"]))
    data = text.encode()
    if op == "truncate":
        data = data[:draw(st.integers(0, len(data)))]
    elif op in ("dup-line", "drop-line", "move-line", "indent"):
        i = draw(st.integers(0, len(lines) - 1))
        if op == "dup-line":          # a duplicated key, item or link
            lines.insert(i, lines[i])
        elif op == "drop-line":
            del lines[i]
        elif op == "move-line":
            lines.insert(draw(st.integers(0, len(lines) - 1)), lines.pop(i))
        else:
            lines[i] = " " * draw(st.integers(0, 5)) + lines[i].lstrip(" ")
        data = "".join(lines).encode()
    elif op == "syntax":
        at = draw(st.integers(0, len(text)))
        data = (text[:at] + draw(st.sampled_from(SYNTAX)) + text[at:]).encode()
    elif op == "bytes":
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=16)) + data[at:]
    elif op == "flip-byte":
        at = draw(st.integers(0, len(data) - 1))
        data = data[:at] + bytes([draw(st.integers(0, 255))]) + data[at + 1:]
    elif op == "encoding":
        data = text.replace("data", "données").encode(draw(st.sampled_from(ENCODINGS)), errors="replace")
    else:                                  # one Latin-1 word in an otherwise UTF-8 file
        at = draw(st.integers(0, len(text)))
        data = text[:at].encode() + "café".encode("latin-1") + text[at:].encode()
    return data


# -- the tests ------------------------------------------------------------------------------------

def test_the_mutation_harness_keeps_an_unchanged_file_valid(worker, lab_dir):
    """Re-dumped without a change, both files still load: mutations start from valid input."""
    for name, doc in DOCS.items():
        (lab_dir / "fuzz.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
        assert worker.load(lab_dir / "fuzz.yaml")["kind"] == "topology", name


# (file, kind of mutation, examples): 2,100 generated files, about 30 s on one core
RUNS = [("seed", structural, 800), ("tiny", structural, 400), ("seed", textual, 600), ("tiny", textual, 300)]


@pytest.mark.parametrize("name,mutation,examples", RUNS, ids=[f"{n}-{m.__name__}" for n, m, _ in RUNS])
def test_mutated_files_load_or_fail_in_one_line(worker, lab_dir, name, mutation, examples):
    @settings(FUZZ, max_examples=examples)
    @given(data=mutation(name))
    def one(data):
        check(worker, lab_dir, data, f"{name}.yaml, {mutation.__name__}")

    one()


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_truncated_at_every_line(worker, lab_dir, name):
    """Exhaustive: the file cut after each of its lines, and in the middle of each line."""
    lines = TEXTS[name].splitlines(keepends=True)
    for n in range(len(lines) + 1):
        head = "".join(lines[:n])
        check(worker, lab_dir, head.encode(), f"{name}.yaml cut after line {n}")
        if n < len(lines) and len(lines[n]) > 2:
            check(worker, lab_dir, (head + lines[n][:len(lines[n]) // 2]).encode(),
                  f"{name}.yaml cut inside line {n + 1}")
