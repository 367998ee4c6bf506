"""JSON string literals of Arrow columns (lib/release/json_literals.py) against json.dumps."""

from __future__ import annotations

import json
import random

import pyarrow as pa
import pytest

from blueprint_assets.lib.release.json_literals import json_literals

ALPHABET = [chr(c) for c in range(0x20)] + ['"', "\\", "/", "\x7f", "\u2028", "é", "🙂", "a", " "]


@pytest.mark.parametrize("kind", [pa.string(), pa.large_string()])
def test_json_literals_keep_nulls_and_the_array_s_type(kind: pa.DataType) -> None:
    rng = random.Random(str(kind))
    values = [
        None if rng.random() < 0.1 else "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(8)))
        for _ in range(300)
    ]
    array = pa.array(values, kind).slice(5, 290)  # a slice: its own offsets only
    got = json_literals(array)
    assert got.type == kind
    assert got.to_pylist() == [
        None if v is None else json.dumps(v, ensure_ascii=False) for v in values[5:295]
    ]
