"""The seed's C++ JSON library ("C++ JSON library", 2012) as labkit's JSON document API.

This module is the document (``JSON``: reading, building, writing); ``parser`` turns
text into one, ``errors`` holds the parse error.

The seed's idea is kept exactly: **one class, ``JSON``, does everything**, and paths are
null-safe. Indexing a missing member, indexing an object with a number or a list with a
name, or indexing anything below an invalid node gives an *invalid* document, and ``str()``
of an invalid document is ``"{invalid}"`` -- never an exception, never ``None``::

    doc = JSON.parse(text)
    doc["obj1"]["member1"][0].str()          # 'val5'
    doc["list"][100]["something"].str()      # '{invalid}'

Building works with ``addObject`` / ``addList`` / ``addValue``; each returns the item it
added, so calls chain. The seed's table of behaviours holds (see ``_add``): a name is needed
on an object (one is generated, ``"key" + index``, if missing), ignored on a list, and adding
to a value or an invalid document is ignored and returns an invalid document.

What the seed left out is filled in: the parser takes all of RFC 8259 (the seed's library
was RFC 4627 minus ``\\u0041``-style escapes and exponent numbers), including surrogate pairs, raw
UTF-8 and numbers such as ``1e10`` or ``-2.5E-3``. The parser is strict and its errors say
where and what: ``JSONParseError: line 3, column 12: expected ',' or '}' after an object
member, found 'x'``. ``JSON.parse`` raises it; ``JSON.try_parse`` never raises and returns
an invalid document whose ``error`` holds it (handy in a server that must answer bad input
with a 400 instead of a traceback).

Numbers keep the text they were parsed from, so ``str()`` of a number is its JSON text and
``stringify`` writes back what was read (``1E10`` stays ``1E10``).
"""

from __future__ import annotations

import builtins
import math
from typing import Any, Iterator

from .errors import JSONParseError

OBJECT = "object"
LIST = "list"
VALUE = "value"
INVALID = "invalid"


class _HybridParse:
    """Lets ``parse`` be called both ways the seed and Python users expect:
    ``JSON.parse(text)`` returns a new document, ``doc.parse(text)`` refills ``doc`` in place
    (the seed's ``json.parse(str)``) and returns it."""

    def __get__(self, instance, owner):
        if instance is None:
            return lambda text, source="<json>": owner._from_text(text, source)

        def parse_into(text, source="<json>"):
            parsed = owner._from_text(text, source)
            instance._become(parsed)
            return instance

        return parse_into



_ESCAPES_OUT = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n",
                "\r": "\\r", "\t": "\\t"}


def _quote(s: str, ascii_only: bool) -> str:
    out = ['"']
    for ch in s:
        esc = _ESCAPES_OUT.get(ch)
        if esc is not None:
            out.append(esc)
        elif ch < " ":
            out.append(f"\\u{ord(ch):04x}")
        elif ascii_only and ord(ch) > 0x7E:
            cp = ord(ch)
            if cp > 0xFFFF:
                cp -= 0x10000
                out.append(f"\\u{0xD800 + (cp >> 10):04x}\\u{0xDC00 + (cp & 0x3FF):04x}")
            else:
                out.append(f"\\u{cp:04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


class JSON:
    """A JSON document or any node in one: an object, a list, a value, or *invalid*.

    ``JSON()`` is an empty object, as in the seed (``JSON json; json.addObject("obj1")``).
    Nodes are shared, not copied: ``doc["list1"].addValue("x")`` changes ``doc``.
    ``bool(node)`` is False only for an invalid node, so ``if doc["a"]["b"]:`` tests a path.
    """

    __slots__ = ("_kind", "_members", "_items", "_value", "_text", "error")

    parse = _HybridParse()

    def __init__(self) -> None:
        self._kind = OBJECT
        self._members: dict[builtins.str, JSON] = {}
        self._items: list[JSON] = []
        self._value: Any = None      # str, int, float, bool or None for VALUE nodes
        self._text: builtins.str = ""  # JSON text of a number/true/false/null
        self.error: JSONParseError | None = None

    # ----- constructors -------------------------------------------------------------
    @classmethod
    def invalid(cls, error: JSONParseError | None = None) -> JSON:
        """A fresh invalid node (what every bad path gives)."""
        node = cls()
        node._kind = INVALID
        node.error = error
        return node

    @classmethod
    def new_list(cls) -> JSON:
        node = cls()
        node._kind = LIST
        return node

    @classmethod
    def new_value(cls, val: Any) -> JSON:
        """A value node for str, int, float (finite), bool or None."""
        node = cls()
        node._kind = VALUE
        if val is None:
            node._value, node._text = None, "null"
        elif isinstance(val, bool):
            node._value, node._text = val, "true" if val else "false"
        elif isinstance(val, int):
            node._value, node._text = int(val), builtins.str(int(val))
        elif isinstance(val, float):
            if not math.isfinite(val):
                raise ValueError(f"JSON has no {val!r}; store null or a string instead")
            node._value, node._text = val, repr(val)
        elif isinstance(val, builtins.str):
            node._value = val
        else:
            raise TypeError(f"addValue takes str, int, float, bool or None, not "
                            f"{type(val).__name__}; use JSON.from_python() for containers")
        return node

    @classmethod
    def from_python(cls, obj: Any) -> JSON:
        """Build a document from dicts, lists/tuples and scalars (what the REST layer has).
        Dict keys must be strings; a JSON node inside is copied."""
        return cls._convert(obj, "$")

    @classmethod
    def _convert(cls, obj: Any, path: builtins.str) -> JSON:
        if isinstance(obj, JSON):
            return cls._convert(obj.to_python(), path) if obj.valid else cls.invalid()
        if isinstance(obj, dict):
            node = cls()
            for k, v in obj.items():
                if not isinstance(k, builtins.str):
                    raise TypeError(f"JSON object keys must be str; {path} has key {k!r}")
                node._members[k] = cls._convert(v, f"{path}.{k}")
            return node
        if isinstance(obj, (list, tuple)):
            node = cls.new_list()
            node._items = [cls._convert(v, f"{path}[{i}]") for i, v in enumerate(obj)]
            return node
        try:
            return cls.new_value(obj)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{path}: {exc}") from None

    @classmethod
    def try_parse(cls, text: builtins.str | bytes, source: builtins.str = "<json>") -> JSON:
        """Like ``JSON.parse`` but never raises: bad text gives an invalid document whose
        ``error`` is the JSONParseError."""
        try:
            return cls._from_text(text, source)
        except JSONParseError as exc:
            return cls.invalid(exc)

    @classmethod
    def _from_text(cls, text: builtins.str | bytes, source: builtins.str) -> JSON:
        if isinstance(text, (bytes, bytearray)):
            try:
                text = bytes(text).decode("utf-8")
            except UnicodeDecodeError as exc:
                prefix = bytes(text[:exc.start]).decode("utf-8", "replace")
                raise JSONParseError(prefix, len(prefix), "UTF-8 text",
                                     f"byte 0x{text[exc.start]:02x}", source) from None
        if not isinstance(text, builtins.str):
            raise TypeError(f"parse takes str or bytes, not {type(text).__name__}")
        from .parser import Parser  # the parser builds JSON nodes: imported here, not at the top
        return Parser(text, source).document()

    def _become(self, other: JSON) -> None:
        for slot in JSON.__slots__:
            setattr(self, slot, getattr(other, slot))

    # ----- reading ------------------------------------------------------------------
    @property
    def kind(self) -> builtins.str:
        """'object', 'list', 'value' or 'invalid'."""
        return self._kind

    @property
    def valid(self) -> bool:
        return self._kind != INVALID

    def __bool__(self) -> bool:
        return self._kind != INVALID

    def __getitem__(self, key: int | builtins.str) -> JSON:
        """Null-safe access: anything that does not exist is an invalid node."""
        if isinstance(key, builtins.str):
            if self._kind == OBJECT:
                node = self._members.get(key)
                if node is not None:
                    return node
        elif isinstance(key, int) and not isinstance(key, bool):
            # Negative indices are invalid, as with the seed's operator[](int).
            if self._kind == LIST and 0 <= key < len(self._items):
                return self._items[key]
        return JSON.invalid()

    def str(self) -> builtins.str:
        """The seed's ``str()``: a string's text, a number's JSON text, 'true'/'false'/'null',
        or '{object}', '{list}', '{invalid}' for the rest."""
        if self._kind == VALUE:
            return self._value if isinstance(self._value, builtins.str) else self._text
        return "{" + self._kind + "}"

    def __str__(self) -> builtins.str:
        return self.str()

    def __repr__(self) -> builtins.str:
        if self._kind == INVALID:
            return "JSON.invalid()"
        text = self.stringify()
        if len(text) > 60:
            text = text[:57] + "..."
        return f"JSON<{self._kind}>({text})"

    def __len__(self) -> int:
        """Number of members (object) or items (list); 0 for values and invalid nodes."""
        if self._kind == OBJECT:
            return len(self._members)
        if self._kind == LIST:
            return len(self._items)
        return 0

    def __iter__(self) -> Iterator:
        """Keys of an object (like a dict), items of a list, nothing otherwise."""
        if self._kind == OBJECT:
            return iter(list(self._members))
        if self._kind == LIST:
            return iter(list(self._items))
        return iter(())

    def __contains__(self, key: object) -> bool:
        return self._kind == OBJECT and key in self._members

    def keys(self) -> list[builtins.str]:
        return list(self._members) if self._kind == OBJECT else []

    def items(self) -> list[tuple[builtins.str, JSON]]:
        return list(self._members.items()) if self._kind == OBJECT else []

    def __eq__(self, other: object) -> bool:
        """Same structure and values. Unlike Python, true != 1 and "1" != 1; 1 == 1.0 as
        JSON has one number type. Two invalid nodes are equal."""
        if not isinstance(other, JSON):
            return NotImplemented
        return self._canon() == other._canon()

    def _canon(self) -> Any:
        if self._kind == OBJECT:
            return ("o", {k: v._canon() for k, v in self._members.items()})
        if self._kind == LIST:
            return ("l", [v._canon() for v in self._items])
        if self._kind == INVALID:
            return ("i",)
        v = self._value
        tag = "z" if v is None else "b" if isinstance(v, bool) else \
            "s" if isinstance(v, builtins.str) else "n"
        return (tag, v)

    __hash__ = None  # mutable

    def to_python(self, invalid: Any = None) -> Any:
        """dict / list / str / int / float / bool / None; ``invalid`` for an invalid node."""
        if self._kind == OBJECT:
            return {k: v.to_python(invalid) for k, v in self._members.items()}
        if self._kind == LIST:
            return [v.to_python(invalid) for v in self._items]
        if self._kind == VALUE:
            return self._value
        return invalid

    # ----- writing ------------------------------------------------------------------
    def addObject(self, name: builtins.str = "") -> JSON:
        """Add an empty object; returns it (or an invalid node if the add is ignored)."""
        return self._add(JSON(), name)

    def addList(self, name: builtins.str = "") -> JSON:
        """Add an empty list; returns it (or an invalid node if the add is ignored)."""
        return self._add(JSON.new_list(), name)

    def addValue(self, val: Any, name: builtins.str = "") -> JSON:
        """Add a str, int, float, bool or None; returns the new value node."""
        return self._add(JSON.new_value(val), name)

    def add(self, node: Any, name: builtins.str = "") -> JSON:
        """Add a whole subtree (a JSON node, copied, or plain Python data)."""
        return self._add(JSON.from_python(node), name)

    def _add(self, node: JSON, name: builtins.str) -> JSON:
        """The seed's table:

        ==========  ===========  ========================================================
        target      name given   result
        ==========  ===========  ========================================================
        object      yes          added under ``name`` (an existing member is replaced)
        object      no           added under ``"key" + index`` (index = members so far,
                                 so the seed's third member gets ``"key2"``); if that
                                 key is taken the index counts up to the first free one
        list        yes/no       appended, the name is ignored
        value       yes/no       ignored, an invalid node is returned
        invalid     yes/no       ignored, an invalid node is returned
        ==========  ===========  ========================================================
        """
        if self._kind == OBJECT:
            if not name:
                index = len(self._members)
                while f"key{index}" in self._members:
                    index += 1
                name = f"key{index}"
            self._members[name] = node
            return node
        if self._kind == LIST:
            self._items.append(node)
            return node
        return JSON.invalid()

    def __setitem__(self, key: int | builtins.str, val: Any) -> None:
        """``doc["name"] = python_value`` on an object, ``doc[i] = ...`` on an existing list
        index. Anything else is ignored, like the seed's adds on values."""
        node = JSON.from_python(val)
        if self._kind == OBJECT and isinstance(key, builtins.str):
            self._members[key] = node
        elif (self._kind == LIST and isinstance(key, int) and not isinstance(key, bool)
              and 0 <= key < len(self._items)):
            self._items[key] = node

    # ----- serialising --------------------------------------------------------------
    def stringify(self, formatted: bool = False, indent: int = 4,
                  ascii_only: bool = False) -> builtins.str:
        """Serialise. ``formatted=True`` gives the seed's layout: ``"key":value`` with no
        space, one item per line, ``indent`` spaces per level, empty containers as ``{`` and
        ``}`` on two lines. An invalid node serialises as ``null`` (there is nothing else
        valid to write). ``ascii_only`` escapes everything above U+007E."""
        out: list[builtins.str] = []
        self._write(out, formatted, " " * indent, "", ascii_only)
        return "".join(out)

    def _write(self, out: list, formatted: bool, step: builtins.str, pad: builtins.str,
               ascii_only: bool) -> None:
        kind = self._kind
        if kind == VALUE:
            out.append(_quote(self._value, ascii_only) if isinstance(self._value, builtins.str)
                       else self._text)
            return
        if kind == INVALID:
            out.append("null")
            return
        opener, closer = ("{", "}") if kind == OBJECT else ("[", "]")
        entries = list(self._members.items()) if kind == OBJECT else \
            [(None, item) for item in self._items]
        out.append(opener)
        inner = pad + step
        for i, (key, child) in enumerate(entries):
            if i:
                out.append(",")
            if formatted:
                out.append("\n" + inner)
            if key is not None:
                out.append(_quote(key, ascii_only) + ":")
            child._write(out, formatted, step, inner, ascii_only)
        if formatted:
            out.append("\n" + pad)
        out.append(closer)
