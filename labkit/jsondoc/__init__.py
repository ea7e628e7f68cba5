"""labkit's JSON document library: the seed post "C++ JSON library" rebuilt in Python.

One class, ``JSON``, does everything (read null-safe paths, build, write, parse); the REST
API of the ACD (labkit.acd.rest) answers with it. ``document`` is the class, ``parser`` the
strict RFC 8259 reader, ``errors`` its ``JSONParseError`` (alias ``ParseError``).
"""
from .document import INVALID, JSON, LIST, OBJECT, VALUE
from .errors import JSONParseError, ParseError

__all__ = ["JSON", "JSONParseError", "ParseError", "OBJECT", "LIST", "VALUE", "INVALID"]
