"""labkit.lab.yamlpos: every mapping, key and list item knows its 1-based line."""
from __future__ import annotations

import pytest

from labkit.lab import TopologyError
from labkit.lab.yamlpos import YList, YMap, load_yaml

TEXT = """\
# a comment on line 1
name: t
nodes:
  h1:
    role: host
    interfaces: {eth0: 10.0.0.1/24}
links:
  - h1:eth0 -- h2:eth0
  -
    - a
    - b
"""


def test_lines_are_one_based():
    d = load_yaml(TEXT, "f.yaml")
    assert isinstance(d, YMap)
    assert d.where.file == "f.yaml" and d.where.line == 2          # a block mapping starts at its first key
    assert d.at("name").line == 2 and d.at("nodes").line == 3 and d.at("links").line == 7
    nodes = d["nodes"]
    assert nodes.where.line == 4 and nodes.at("h1").line == 4
    h1 = nodes["h1"]
    assert h1.where.line == 5 and h1.at("role").line == 5 and h1.at("interfaces").line == 6
    flow = h1["interfaces"]
    assert isinstance(flow, YMap) and flow.where.line == 6 and flow.at("eth0").line == 6
    links = d["links"]
    assert isinstance(links, YList) and links.where.line == 8
    assert [w.line for w in links.item_where] == [8, 10]   # a nested list starts at its first item
    inner = links[1]
    assert inner == ["a", "b"] and inner.where.line == 10 and [w.line for w in inner.item_where] == [10, 11]


def test_a_missing_key_falls_back_to_the_mappings_own_line():
    h1 = load_yaml(TEXT, "f.yaml")["nodes"]["h1"]
    assert h1.at("gateway") == h1.where and h1.where.line == 5


def test_first_line_of_the_file_is_line_1():
    d = load_yaml("a: {b: 1}\n", "f.yaml")
    assert d.where.line == 1 and d["a"].where.line == 1


@pytest.mark.parametrize("text,line,words", [
    ("a: 1\nb: [1, 2\n", 3, "YAML syntax"),
    ("a: 1\nb:\n  c: 1\n  c: 2\n", 4, "key 'c' appears twice"),
    ("a: 1\n? [x]\n: 2\n", 2, "is not a name or a number"),
    ("", 1, "the file is empty"),
])
def test_errors_name_their_line(text, line, words):
    with pytest.raises(TopologyError) as info:
        load_yaml(text, "f.yaml")
    assert info.value.where.line == line and words in str(info.value)
    assert str(info.value).startswith(f"f.yaml:{line}: ")
