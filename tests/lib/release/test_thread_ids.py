"""The published ids of threads (lib/release/thread_ids.py) against json.dumps and hashlib."""

from __future__ import annotations

import hashlib
import json
import random

import numpy as np
import pyarrow as pa
import pytest

from blueprint_assets.lib.release.thread_ids import json_strings, packed_strings, thread_ids

# Every character json escapes, and neighbours it must leave alone (DEL, U+2028, non-ASCII, astral).
ALPHABET = [chr(c) for c in range(0x20)] + ['"', "\\", "/", "\x7f", "\u2028", "é", "🙂", "a", " ", "'"]


def _text(rng: random.Random) -> str | None:
    if rng.random() < 0.1:
        return None
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(0, 12)))


@pytest.mark.parametrize("seed", range(4))
def test_json_strings_are_what_json_dumps_writes(seed: int) -> None:
    rng = random.Random(seed)
    values = [_text(rng) for _ in range(400)] + ["plain", ""]
    expected = [json.dumps(value, ensure_ascii=False) for value in values]
    assert json_strings(pa.array(values, pa.string())).to_pylist() == expected
    # A slice starts inside its buffers: the byte scan must read its own bytes only.
    assert json_strings(pa.array(values, pa.large_string()).slice(7, 300)).to_pylist() == expected[7:307]


def test_json_strings_of_plain_strings_only_quote_them() -> None:
    assert json_strings(pa.array(["a b", None], pa.large_string())).to_pylist() == ['"a b"', "null"]


def test_json_strings_skip_a_null_slot_s_bytes_and_read_chunks() -> None:
    """Arrow leaves the bytes under a null slot undefined: a quote there must not make the null escaped."""
    data, offsets = pa.py_buffer(b'a"b'), pa.py_buffer(np.array([0, 1, 2, 3], dtype=np.int32).tobytes())
    validity = pa.py_buffer(np.packbits([1, 0, 1], bitorder="little").tobytes())
    array = pa.StringArray.from_buffers(3, offsets, data, validity, null_count=1)
    assert json_strings(array).to_pylist() == ['"a"', "null", '"b"']
    chunks = pa.chunked_array([pa.array(['x"'], pa.string()), pa.array([None, "y"], pa.string())])
    assert json_strings(chunks).to_pylist() == ['"x\\""', "null", '"y"']


@pytest.mark.parametrize("workers", [1, 2])
def test_thread_ids_are_the_sha1_of_each_thread_s_json_list(workers: int) -> None:
    rng = random.Random(workers)
    lengths = [rng.randrange(1, 5) for _ in range(300)]
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    users = [f"{rng.getrandbits(64):016x}" for _ in range(int(offsets[-1]))]
    texts = [_text(rng) for _ in users]
    labels = [rng.choice(["like", "reply", "post"]) for _ in lengths]
    events = [rng.choice(["e1", 'e"2', "é3"]) + str(i) for i in range(len(lengths))]
    columns = [[rng.randrange(-1, 30) for _ in lengths] for _ in range(2)]
    got = thread_ids(
        labels, events, offsets, packed_strings("".join(users).encode(), 16), pa.array(texts, pa.string()),
        columns, workers,
    )  # fmt: skip
    for clusters, ids in zip(columns, got, strict=True):
        assert ids.type == pa.string()
        expected = []
        for t, (start, end) in enumerate(zip(offsets[:-1], offsets[1:], strict=True)):
            body: list = [clusters[t], labels[t], events[t]]
            for user, text in zip(users[start:end], texts[start:end], strict=True):
                body += [user, text]
            dumped = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
            expected.append(hashlib.sha1(dumped.encode()).hexdigest())
        assert ids.to_pylist() == expected
