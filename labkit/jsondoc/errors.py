"""The one error of labkit.jsondoc: bad JSON text, with where (line, column) and what was expected."""
from __future__ import annotations


class JSONParseError(ValueError):
    """Bad JSON text. Carries the 1-based ``line`` and ``column``, the 0-based ``pos``,
    and ``expected`` (what the parser wanted to see there)."""

    def __init__(self, text: str, pos: int, expected: str, found: str | None = None,
                 source: str = "<json>"):
        self.pos = pos
        self.line = text.count("\n", 0, pos) + 1
        self.column = pos - (text.rfind("\n", 0, pos) + 1) + 1
        self.expected = expected
        if found is None:
            found = "end of input" if pos >= len(text) else repr(text[pos])
        self.found = found
        self.source = source
        super().__init__(f"{source}: line {self.line}, column {self.column}: "
                         f"expected {expected}, found {found}")


#: Short alias; the brief of the ACD server calls it ParseError.
ParseError = JSONParseError
