"""YAML loading that remembers where every mapping, key and list item came from.

PyYAML's composer already knows each node's position; we keep it, so that a
validation error can say ``seed.yaml:42`` instead of just "bad address".
"""
from __future__ import annotations

from typing import Any

import yaml

from .errors import TopologyError, Where


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


def _convert(node: yaml.Node, loader: yaml.SafeLoader, file: str) -> Any:
    where = Where(file, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out = YMap()
        out.where, out.key_where = where, {}
        loader.flatten_mapping(node)
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            kw = Where(file, key_node.start_mark.line + 1)
            if not isinstance(key, (str, int)):
                raise TopologyError(kw, f"mapping key {key!r} is not a name or a number",
                                    "use a plain word or number as the key")
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
            out_list.item_where.append(Where(file, item.start_mark.line + 1))
        return out_list
    return loader.construct_object(node, deep=True)


def load_yaml(text: str, file: str) -> Any:
    """Parse YAML text into YMap/YList/scalars, raising TopologyError with file:line."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise TopologyError(Where(file, 1), "the file is empty", "start from topologies/seed.yaml")
        return _convert(node, loader, file)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise TopologyError(Where(file, line), f"YAML syntax: {exc.problem or exc}",
                            "check indentation and colons on this line") from None
    finally:
        loader.dispose()
