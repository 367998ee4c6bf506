"""JSON string literals of Arrow string columns, byte for byte what json.dumps(ensure_ascii=False) writes.

The one rule for both JSON writers of a release: the thread ids' JSON (thread_ids.py) and the published
JSON lines (published.py). Arrow quotes every string; only the strings holding a quote, a backslash or a
control character (what json escapes) go through json's own encoder, found by one scan of the UTF-8 bytes.
`string_offsets` is the numpy view of a string array's offsets that such scans read (thread_columns.py's
`all_distinct` reads it too).
"""

from __future__ import annotations

from json.encoder import encode_basestring  # what json.dumps(ensure_ascii=False) uses for strings

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_ESCAPED_BYTES = np.zeros(256, dtype=bool)
_ESCAPED_BYTES[[*range(0x20), ord('"'), ord("\\")]] = True
_SCANNED_BYTES = 1 << 22  # bytes scanned at once: small temporaries, in cache


def json_literals(values: pa.Array) -> pa.Array:
    """Each string of a string or large-string array as a JSON string literal (null stays null), in the
    array's own type."""
    kind = values.type
    quote = pa.scalar('"', kind)
    quoted = pc.binary_join_element_wise(quote, values, quote, pa.scalar("", kind))
    # A null slot may still span bytes (Arrow leaves them undefined): only valid strings are escaped.
    escaped = _needs_escaping(values) & values.is_valid().to_numpy(zero_copy_only=False)
    if not escaped.any():
        return quoted
    mask = pa.array(escaped, pa.bool_())
    encoded = [encode_basestring(value) for value in values.filter(mask).to_pylist()]
    return pc.replace_with_mask(quoted, mask, pa.array(encoded, kind))


def string_offsets(values: pa.Array) -> np.ndarray:
    """The array's own slice of its string offsets (int32 or int64, one more than its length)."""
    dtype = np.int64 if pa.types.is_large_string(values.type) else np.int32
    return np.frombuffer(values.buffers()[1], dtype=dtype)[values.offset : values.offset + len(values) + 1]


def _needs_escaping(values: pa.Array) -> np.ndarray:
    """Per string, whether it holds a byte json escapes: bytes below 0x80 are never part of another
    character's UTF-8 encoding, so one scan of the data finds them."""
    escaped = np.zeros(len(values), dtype=bool)
    if not len(values):
        return escaped
    offsets = string_offsets(values)
    data = np.frombuffer(values.buffers()[2] or b"", np.uint8)[offsets[0] : offsets[-1]]
    for start in range(0, len(data), _SCANNED_BYTES):
        at = np.flatnonzero(_ESCAPED_BYTES[data[start : start + _SCANNED_BYTES]]) + start + offsets[0]
        escaped[np.searchsorted(offsets, at, side="right") - 1] = True
    return escaped
