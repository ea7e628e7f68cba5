"""Strict RFC 8259 parser for labkit.jsondoc: text to a ``JSON`` document, errors that say where."""
from __future__ import annotations

import re

from .document import JSON, VALUE
from .errors import JSONParseError

#: Deepest nesting the parser accepts; deeper input gets a JSONParseError, not a RecursionError.
MAX_DEPTH = 256

_ESCAPES_IN = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n",
               "r": "\r", "t": "\t"}
_WS = " \t\n\r"
_DIGITS = "0123456789"
_WS_RE = re.compile(r"[ \t\n\r]*")
_PLAIN_RE = re.compile(r'[^"\\\x00-\x1f]*')
_NUMBER_RE = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_NUM_NEXT_BAD = "0123456789.eE+-"   # after a full match these mean a malformed number


class Parser:
    """Strict recursive-descent parser for RFC 8259 JSON (any value at the top level)."""

    def __init__(self, text: str, source: str):
        self.text = text
        self.source = source
        self.pos = 0
        self.depth = 0

    def fail(self, expected: str, pos: int | None = None, found: str | None = None):
        raise JSONParseError(self.text, self.pos if pos is None else pos, expected, found,
                             self.source)

    def skip_ws(self) -> None:
        self.pos = _WS_RE.match(self.text, self.pos).end()

    def document(self) -> JSON:
        if self.text.startswith("\ufeff"):
            self.pos = 1  # tolerate a UTF-8 byte order mark, as RFC 8259 allows parsers to
        self.skip_ws()
        node = self.value()
        self.skip_ws()
        if self.pos != len(self.text):
            self.fail("end of input after the JSON value")
        return node

    def value(self) -> JSON:
        text, pos = self.text, self.pos
        if pos >= len(text):
            self.fail("a JSON value")
        ch = text[pos]
        if ch == "{":
            return self.object()
        if ch == "[":
            return self.array()
        if ch == '"':
            return JSON.new_value(self.string())
        if ch == "-" or ch in _DIGITS:
            return self.number()
        for word, val in (("true", True), ("false", False), ("null", None)):
            if text.startswith(word, pos):
                self.pos = pos + len(word)
                return JSON.new_value(val)
        self.fail("a JSON value (object, list, string, number, true, false or null)")

    def enter(self) -> None:
        """Step over an opening bracket, one level deeper (bounded by MAX_DEPTH)."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self.fail(f"at most {MAX_DEPTH} levels of nesting")
        self.pos += 1
        self.skip_ws()

    def closes(self, close: str) -> bool:
        """At ``close``: step over it, one level up, and say so."""
        if self.text.startswith(close, self.pos):
            self.pos += 1
            self.depth -= 1
            return True
        return False

    def after_item(self, close: str, what: str) -> bool:
        """After a member or item: False past a comma (another follows), True past ``close``."""
        self.skip_ws()
        if self.text.startswith(",", self.pos):
            self.pos += 1
            self.skip_ws()
            return False
        if self.closes(close):
            return True
        self.fail(f"',' or '{close}' after {what}")

    def object(self) -> JSON:
        self.enter()
        node = JSON()
        if self.closes("}"):
            return node
        while True:
            if not self.text.startswith('"', self.pos):
                self.fail("a member name in double quotes")
            key = self.string()
            self.skip_ws()
            if not self.text.startswith(":", self.pos):
                self.fail("':' after the member name")
            self.pos += 1
            self.skip_ws()
            node._members[key] = self.value()  # a repeated name keeps the last value
            if self.after_item("}", "an object member"):
                return node

    def array(self) -> JSON:
        self.enter()
        node = JSON.new_list()
        if self.closes("]"):
            return node
        while True:
            node._items.append(self.value())
            if self.after_item("]", "a list item"):
                return node

    def string(self) -> str:
        text = self.text
        start = self.pos
        pos = start + 1
        n = len(text)
        parts: list[str] = []
        while True:
            # Fast path: copy the run of ordinary characters in one slice.
            run = pos
            pos = _PLAIN_RE.match(text, pos).end()
            parts.append(text[run:pos])
            if pos >= n:
                self.fail("'\"' to close the string that starts here", start,
                          "end of input")
            ch = text[pos]
            if ch == '"':
                self.pos = pos + 1
                return "".join(parts)
            if ch != "\\":
                self.fail("a character (control characters must be escaped, e.g. \\n)",
                          pos, f"U+{ord(ch):04X}")
            esc = text[pos + 1:pos + 2]
            if esc in _ESCAPES_IN:
                parts.append(_ESCAPES_IN[esc])
                pos += 2
            elif esc == "u":
                cp = self.hex4(pos)
                pos += 6
                if 0xD800 <= cp <= 0xDBFF:
                    if text.startswith("\\u", pos):
                        low = self.hex4(pos)
                        if 0xDC00 <= low <= 0xDFFF:
                            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00)
                            pos += 6
                        else:
                            self.fail("a low surrogate \\uDC00..\\uDFFF after a high "
                                      "surrogate", pos)
                    else:
                        self.fail("a low surrogate \\uDC00..\\uDFFF after a high "
                                  "surrogate", pos)
                elif 0xDC00 <= cp <= 0xDFFF:
                    self.fail("a high surrogate before a low surrogate", pos - 6,
                              f"lone \\u{cp:04x}")
                parts.append(chr(cp))
            else:
                self.fail("an escape: \\\" \\\\ \\/ \\b \\f \\n \\r \\t or \\u followed by 4 hex digits", pos,
                          repr("\\" + esc) if esc else "end of input")

    def hex4(self, pos: int) -> int:
        digits = self.text[pos + 2:pos + 6]
        if len(digits) != 4 or any(c not in "0123456789abcdefABCDEF" for c in digits):
            self.fail("four hex digits after \\u", pos + 2, repr(digits) if digits else None)
        return int(digits, 16)

    def number(self) -> JSON:
        text, start = self.text, self.pos
        m = _NUMBER_RE.match(text, start)
        if m is not None and not (m.end() < len(text) and text[m.end()] in _NUM_NEXT_BAD):
            literal = m.group()
            node = JSON()
            node._kind = VALUE
            node._text = literal
            self.pos = m.end()
            if m.group(1) or m.group(2):
                node._value = float(literal)
                return node
            if len(literal) <= 4300:
                node._value = int(literal)
                return node
        # Slow path: walk the grammar to say exactly what is wrong.
        n = len(text)
        pos = start
        if text[pos] == "-":
            pos += 1
        if pos < n and text[pos] == "0":
            pos += 1
            if pos < n and text[pos] in _DIGITS:
                self.fail("'.', 'e' or the end of the number (no leading zeros)", pos)
        elif pos < n and text[pos] in _DIGITS:
            while pos < n and text[pos] in _DIGITS:
                pos += 1
        else:
            self.fail("a digit", pos)
        is_float = False
        if pos < n and text[pos] == ".":
            is_float = True
            pos += 1
            if not (pos < n and text[pos] in _DIGITS):
                self.fail("a digit after the decimal point", pos)
            while pos < n and text[pos] in _DIGITS:
                pos += 1
        if pos < n and text[pos] in "eE":
            is_float = True
            pos += 1
            if pos < n and text[pos] in "+-":
                pos += 1
            if not (pos < n and text[pos] in _DIGITS):
                self.fail("a digit in the exponent", pos)
            while pos < n and text[pos] in _DIGITS:
                pos += 1
        literal = text[start:pos]
        self.pos = pos
        node = JSON()
        node._kind = VALUE
        try:
            node._value = float(literal) if is_float else int(literal)
        except ValueError:  # Python caps int() at 4300 digits
            self.fail("a number of at most 4300 digits", start, "a longer one")
        node._text = literal
        return node
