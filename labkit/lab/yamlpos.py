"""YAML loading that remembers where every mapping, key and list item came from.

PyYAML's composer already knows each node's position; we keep it, so that a
validation error can say ``seed.yaml:42`` instead of just "bad address".

A topology file is also untrusted input, so this is where it is bounded: the bytes
must be UTF-8 text of at most `MAX_BYTES`, nesting stops at `MAX_DEPTH` and the count
of YAML nodes at `MAX_NODES` (so a 1 MB list cannot take seconds), and anchors and
aliases are refused (a 425-byte alias bomb would otherwise expand to gigabytes).
Whatever goes wrong, the caller gets one TopologyError with the file and line.
"""
from __future__ import annotations

import codecs
from pathlib import Path
from typing import Any

import yaml

from .errors import TopologyError, Where

MAX_BYTES = 1 << 20   # a topology is a few KB; 1 MB is generous and parses in well under a second
MAX_DEPTH = 64        # the deepest real topology nests 5 levels
MAX_NODES = 20_000    # values, lists and mappings: seed.yaml has ~500; pure-Python YAML does ~50k/s

_SAVE_UTF8 = "save the file as UTF-8 text"


class YMap(dict):
    """A dict that knows its own line and the line of each key."""

    where: Where
    key_where: dict[str, Where]

    def at(self, key: str) -> Where:
        return self.key_where.get(key, self.where)


class YList(list):
    """A list that knows its own line and the line of each item."""

    where: Where
    item_where: list[Where]


def _line(mark: Any) -> int:
    return mark.line + 1 if mark is not None else 1


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that refuses anchors and aliases and stops at MAX_DEPTH and MAX_NODES.

    Both checks happen while composing, before any node is built, so neither an alias
    bomb nor a 100,000-deep `[` costs more than the first few hundred bytes of work.
    """

    def __init__(self, text: str, file: str):
        super().__init__(text)
        self.file = file
        self.depth = 0
        self.count = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise TopologyError(Where(self.file, _line(event.start_mark)),
                                "YAML anchors ('&name') and aliases ('*name') are not allowed in a topology",
                                "write the value out in full where it is used")
        self.depth += 1
        self.count += 1
        try:
            if self.count > MAX_NODES:
                raise TopologyError(Where(self.file, _line(event.start_mark)),
                                    f"the YAML has more than {MAX_NODES} values",
                                    "a topology has a few hundred; check that this is the right file")
            if self.depth > MAX_DEPTH:
                raise TopologyError(Where(self.file, _line(event.start_mark)),
                                    f"the YAML nests deeper than {MAX_DEPTH} levels",
                                    "a topology needs only a few levels; close the brackets or fix the indentation")
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _scalar(node: yaml.Node, loader: yaml.SafeLoader, file: str) -> Any:
    """A scalar's value; a value its tag cannot hold (`2001-02-30`, `!!int x`) is an error."""
    try:
        return loader.construct_object(node, deep=True)
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError):
        tag = node.tag.rsplit(":", 1)[-1]
        raise TopologyError(Where(file, _line(node.start_mark)), f"'{node.value}' is not a valid {tag}",
                            "put the value in quotes to make it text") from None


def _key(node: yaml.Node, loader: yaml.SafeLoader, file: str) -> Any:
    kw = Where(file, _line(node.start_mark))
    if not isinstance(node, yaml.ScalarNode):
        raise TopologyError(kw, "a list or mapping as a mapping key is not a name or a number",
                            "use a plain word or number as the key")
    key = _scalar(node, loader, file)
    if isinstance(key, bool):   # YAML 1.1 reads `on:`, `no:` as booleans; as a key it is a name
        return node.value
    if not isinstance(key, (str, int)):
        raise TopologyError(kw, f"mapping key {key!r} is not a name or a number",
                            "use a plain word or number as the key")
    return key


def _convert(node: yaml.Node, loader: yaml.SafeLoader, file: str) -> Any:
    where = Where(file, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out = YMap()
        out.where, out.key_where = where, {}
        loader.flatten_mapping(node)
        for key_node, value_node in node.value:
            key = _key(key_node, loader, file)
            kw = Where(file, _line(key_node.start_mark))
            if key in out:
                raise TopologyError(kw, f"key {key!r} appears twice in this mapping",
                                    "remove or rename one of them")
            out[key] = _convert(value_node, loader, file)
            out.key_where[key] = kw
        return out
    if isinstance(node, yaml.SequenceNode):
        out_list = YList()
        out_list.where, out_list.item_where = where, []
        for item in node.value:
            out_list.append(_convert(item, loader, file))
            out_list.item_where.append(Where(file, _line(item.start_mark)))
        return out_list
    return _scalar(node, loader, file)


def _too_big(file: str, size: str) -> TopologyError:
    return TopologyError(Where(file, 1), f"the file is {size}, more than the {MAX_BYTES} bytes a topology may have",
                         "a topology is a few KB of text; check that this is the right file")


def decode(data: bytes, file: str) -> str:
    """UTF-8 bytes -> text; anything else is one error naming the byte offset and its line."""
    if len(data) > MAX_BYTES:
        raise _too_big(file, f"{len(data)} bytes")
    for bom, name in ((codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),
                      (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16")):
        if data.startswith(bom):
            raise TopologyError(Where(file, 1), f"the file is {name} (byte-order mark at byte offset 0), not UTF-8",
                                f"{_SAVE_UTF8}, e.g. iconv -f {name} -t UTF-8")
    nul = data.find(b"\0")
    if nul >= 0:
        raise TopologyError(Where(file, data.count(b"\n", 0, nul) + 1),
                            f"NUL byte at byte offset {nul}: this is a binary file (or UTF-16/32), not YAML text",
                            _SAVE_UTF8)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad = data[exc.start]
        raise TopologyError(Where(file, data.count(b"\n", 0, exc.start) + 1),
                            f"byte 0x{bad:02x} at byte offset {exc.start} is not UTF-8",
                            f"{_SAVE_UTF8}; a Latin-1 file converts with iconv -f latin1 -t UTF-8") from None


def read(path: Path, file: str) -> str:
    """The text of a topology file, reading no more than MAX_BYTES + 1 bytes of it."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise TopologyError(Where(file, 1), f"cannot read the file: {exc.strerror or exc}",
                            "check that it exists and is readable") from None
    if len(data) > MAX_BYTES:
        try:
            size = f"{path.stat().st_size} bytes"
        except OSError:
            size = "too large"
        raise _too_big(file, size)
    return decode(data, file)


def load_yaml(text: str | bytes, file: str) -> Any:
    """Parse YAML text (or UTF-8 bytes) into YMap/YList/scalars, raising TopologyError with file:line."""
    if isinstance(text, bytes):
        text = decode(text, file)
    elif len(text) > MAX_BYTES:
        raise _too_big(file, f"{len(text)} characters")
    loader = None
    try:
        loader = _BoundedLoader(text, file)   # its Reader already refuses control characters
        node = loader.get_single_node()
        if node is None:
            raise TopologyError(Where(file, 1), "the file is empty", "start from topologies/seed.yaml")
        return _convert(node, loader, file)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise TopologyError(Where(file, _line(mark)), f"YAML syntax: {exc.problem or exc.context or 'invalid YAML'}",
                            "check indentation and colons on this line") from None
    except yaml.reader.ReaderError as exc:   # a character YAML does not allow in a file (e.g. ESC)
        line = text.count("\n", 0, exc.position) + 1
        code = exc.character if isinstance(exc.character, int) else ord(exc.character[:1] or "\0")
        raise TopologyError(Where(file, line), f"character U+{code:04X} at character {exc.position} "
                            "is not allowed in YAML", "remove it; a topology is plain text") from None
    except yaml.YAMLError as exc:
        raise TopologyError(Where(file, 1), f"YAML error: {exc}", "check the file's YAML syntax") from None
    finally:
        if loader is not None:
            loader.dispose()
