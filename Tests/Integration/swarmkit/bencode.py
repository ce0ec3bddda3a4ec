"""Minimal bencode (BEP 3): for crafting torrents and tracker replies by hand, malformed too."""

from __future__ import annotations

from typing import Any, Union

Value = Union[int, bytes, list, dict]


def bencode(value: Any) -> bytes:
    """Encode ints, bytes/str, lists and dicts (keys sorted as bytes, as BEP 3 requires)."""
    out: list[bytes] = []
    _encode(value, out)
    return b"".join(out)


def _encode(value: Any, out: list) -> None:
    if isinstance(value, bool):
        raise TypeError("bencode has no booleans")
    if isinstance(value, int):
        out.append(b"i%de" % value)
    elif isinstance(value, (bytes, bytearray, memoryview)):
        value = bytes(value)
        out.append(b"%d:" % len(value))
        out.append(value)
    elif isinstance(value, str):
        _encode(value.encode(), out)
    elif isinstance(value, (list, tuple)):
        out.append(b"l")
        for item in value:
            _encode(item, out)
        out.append(b"e")
    elif isinstance(value, dict):
        out.append(b"d")
        items = [(k.encode() if isinstance(k, str) else bytes(k), v) for k, v in value.items()]
        for key, item in sorted(items):
            _encode(key, out)
            _encode(item, out)
        out.append(b"e")
    else:
        raise TypeError(f"cannot bencode {type(value).__name__}")


class BencodeError(ValueError):
    """Malformed bencode."""


def bdecode(data: bytes) -> Value:
    """Decode one complete value; trailing bytes are an error."""
    value, end = _decode(data, 0, 0)
    if end != len(data):
        raise BencodeError(f"trailing data at offset {end}")
    return value


def bdecode_prefix(data: bytes) -> tuple[Value, int]:
    """Decode the value at the start of `data`; returns it and where it ended (BEP 9 messages
    carry a block after their dictionary)."""
    return _decode(data, 0, 0)


def _decode(data: bytes, i: int, depth: int) -> tuple[Value, int]:
    if depth > 100:
        raise BencodeError("nesting too deep")
    if i >= len(data):
        raise BencodeError("unexpected end")
    c = data[i:i + 1]
    if c == b"i":
        end = data.index(b"e", i)
        return int(data[i + 1:end]), end + 1
    if c == b"l":
        i += 1
        items = []
        while data[i:i + 1] != b"e":
            item, i = _decode(data, i, depth + 1)
            items.append(item)
        return items, i + 1
    if c == b"d":
        i += 1
        d = {}
        while data[i:i + 1] != b"e":
            key, i = _decode(data, i, depth + 1)
            if not isinstance(key, bytes):
                raise BencodeError("dict key is not a string")
            d[key], i = _decode(data, i, depth + 1)
        return d, i + 1
    if c.isdigit():
        colon = data.index(b":", i)
        n = int(data[i:colon])
        start = colon + 1
        if start + n > len(data):
            raise BencodeError("string runs past the end")
        return data[start:start + n], start + n
    raise BencodeError(f"unexpected byte {c!r} at offset {i}")
