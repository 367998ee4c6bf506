"""Proof that the public release holds no hidden answer: neither a validation/test action nor its text.

Two rules, used both when the release is written (threads that would reveal an answer are dropped) and by
the blocking check over the finished `public/` folder (lib/release/public_scan.py):
- structure: a row whose id is a hidden thread's id has no `action`/`actions` key and its last message has
  neither `actions` nor `text`; no file lives under an `answers/` folder;
- text: no answer text (whitespace-normalised, at least MIN_CHARS long, at most MAX_COMPARED; Markdown
  escapes undone) occurs in any public file: in any one string of a Parquet or JSON-lines row, or anywhere
  in any other file. Shorter texts ("lol", "yes") are too common to identify an answer and are skipped.
Matching is a sliding-window lookup of each answer's first MIN_CHARS characters, then a full comparison,
so the scan is linear in the size of the public folder whatever the number of answers. The windows are
first screened in bulk, as a hash join: a rolling hash of every MIN_CHARS-character window (numpy, over the
code points of many texts at once) is joined with each answer's anchor, the window of it least shared with
other answers, which names where that answer would start and how long it is; the hashes of its first,
middle and last windows and its length then confirm, and only those candidates go through the exact
lookup. A hash never misses an exact match, so the result is the same as the lookup alone, at a fraction
of its cost, and anchoring on a rare window keeps it linear when thousands of answers share an opening.
A bulk search (`found_in`) is shared by the index's `workers` forked processes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from blueprint_assets.lib.arrays import distinct_sorted
from blueprint_assets.lib.parallel import forked_map

MIN_CHARS = 16
# A persona card truncates a post near 280 characters; compare at most this much of an answer.
MAX_COMPARED = 270
_MD_ESCAPE_RE = re.compile(r"\\([\\`*_\[\]<>#|~])")
_HEX = re.compile(r"^[0-9a-f]+$")  # the alphabet of the release's ids (thread ids, user ids)
_HASH_BASE = np.uint64(0x100000001B3)  # FNV's 64-bit prime: any odd multiplier spreads the code points
assert MIN_CHARS & (MIN_CHARS - 1) == 0, "window hashes are built by doubling"
_SCREEN_BITS = 22  # a 4M-entry bitmap of first-window hashes screens positions before the hash join
_CHUNK_CHARS = 1 << 22  # code points screened at once: bounded memory (a few uint64 arrays of this size)
_SHORT = 512  # below this many characters a single text is scanned directly (numpy's set-up costs more)


def normalise(text: str) -> str:
    return " ".join(text.split())


class AnswerIndex:
    """Hidden answer texts, searchable inside any larger text in linear time."""

    def __init__(self, answers: Iterable[Mapping[str, Any]], workers: int = 1) -> None:
        """`workers` forked processes share each bulk search (`found_in`)."""
        self.workers = workers
        # prefix -> length -> full text -> ids: a position costs one lookup per distinct answer length
        # sharing its prefix, not one comparison per answer (answers often share an opening).
        self.by_prefix: dict[str, dict[int, dict[str, list[str]]]] = {}
        self.ids: set[str] = set()
        for answer in answers:
            self.ids.add(str(answer["id"]))
            # Cut, then stripped: a cut that ends in a space would miss the very text it was cut from.
            text = normalise(answer.get("text") or "")[:MAX_COMPARED].rstrip()
            if len(text) >= MIN_CHARS:
                by_length = self.by_prefix.setdefault(text[:MIN_CHARS], {})
                by_length.setdefault(len(text), {}).setdefault(text, []).append(str(answer["id"]))
        self._join_keys()

    def _join_keys(self) -> None:
        """Hashes for the bulk screen: each answer's anchor window, and one key per distinct answer text.

        A haystack window that hashes like an anchor names the (offset, length) of the few answers anchored
        there. Anchoring at the window an answer shares least with the others keeps that list short however
        many answers share an opening ("Thanks for sharing, ..."), so the join stays linear in the haystack.
        """
        full = [t for by_length in self.by_prefix.values() for texts in by_length.values() for t in texts]
        self._hex_answers = any(_HEX.fullmatch(t) for t in full)
        lengths = np.fromiter((len(t) for t in full), dtype=np.int64, count=len(full))
        # Each answer's first, middle and last MIN_CHARS code points, joined: window 3i is its first.
        windows = [t[:MIN_CHARS] + t[_middle(len(t)) :][:MIN_CHARS] + t[-MIN_CHARS:] for t in full]
        ends = _window_hashes(_code_points(windows))[::MIN_CHARS]
        keys = _mix(ends[0::3], lengths.astype(np.uint64), ends[1::3], ends[2::3])
        self._answer_set = distinct_sorted(keys)
        anchor, anchor_at = _anchors(full, lengths)
        triples = np.unique(
            np.stack([anchor, anchor_at.astype(np.uint64), lengths.astype(np.uint64)], axis=1), axis=0
        )
        self._anchor_at, self._anchor_length = triples[:, 1].astype(np.int64), triples[:, 2].astype(np.int64)
        # Per distinct anchor hash, where its (sorted) triples start and how many there are.
        anchors, self._group_low, self._group_count = np.unique(
            triples[:, 0], return_index=True, return_counts=True
        )
        self._anchor_set = anchors
        self._screen = np.zeros(1 << _SCREEN_BITS, dtype=bool)
        self._screen[anchors >> np.uint64(64 - _SCREEN_BITS)] = True  # cheap first pass

    def __len__(self) -> int:
        return len(self.ids)

    def may_hold(self, strings: pa.Array) -> pa.Array:
        """The strings that could hold an answer, the others left out (exactly: none of them holds one).

        A string holds an answer only if it is at least MIN_CHARS long (preparing a text never lengthens
        it), and a string of lowercase hex digits (the release's thread and user ids, most of its distinct
        strings) only if some answer is made of hex digits too.
        """
        keep = pc.greater_equal(pc.utf8_length(strings), MIN_CHARS)
        if not self._hex_answers:
            keep = pc.and_(keep, pc.invert(pc.match_substring_regex(strings, _HEX.pattern)))
        return strings.filter(pc.fill_null(keep, False))

    def hits(self, haystack: str, markdown: bool = False) -> list[str]:
        """Ids of answers whose text occurs in `haystack`."""
        if not self.by_prefix:
            return []
        text = _prepare(haystack, markdown)
        if len(text) < _SHORT:
            return self._exact(text)
        return self._hits_prepared([text]).get(0, [])

    def hits_many(self, haystacks: Sequence[str], markdown: bool = False) -> list[list[str]]:
        """`[self.hits(h, markdown) for h in haystacks]`, screened in bulk."""
        found = self.found_in(haystacks, markdown)
        return [list(found.get(h, ())) for h in haystacks]

    def flags_many(self, haystacks: Sequence[str], markdown: bool = False) -> list[bool]:
        """Per haystack, whether it holds any answer's text: `bool(hits)`, without building the id lists."""
        found = self.found_in(haystacks, markdown)
        return [h in found for h in haystacks]

    def found_in(self, haystacks: Sequence[str], markdown: bool = False) -> dict[str, list[str]]:
        """Answer ids per distinct haystack holding any (the others are left out), each searched on its own."""
        if not self.by_prefix:
            return {}
        # Texts repeat (a liked post is the context of every like of it): each distinct one is scanned once.
        distinct = list(dict.fromkeys(haystacks))
        found: dict[str, list[str]] = {}
        for part in forked_map(partial(self._found_distinct, markdown=markdown), distinct, self.workers):
            found.update(part)
        return found

    def _found_distinct(self, distinct: list[str], markdown: bool) -> dict[str, list[str]]:
        """`found_in` of distinct haystacks: a forked worker's share (numpy and Python only)."""
        hits = self._hits_prepared([_prepare(h, markdown) for h in distinct])
        return {distinct[i]: ids for i, ids in hits.items()}

    def _hits_prepared(self, texts: list[str]) -> dict[int, list[str]]:
        """Sorted answer ids by index of the (prepared) texts that hold any."""
        found: dict[int, list[str]] = {}
        start = 0
        while start < len(texts):
            end, size = start, 0
            while end < len(texts) and (size < _CHUNK_CHARS or end == start):
                size += len(texts[end]) + 1
                end += 1
            for i, at, length in self._matches(texts[start:end]):
                # The exact comparison, only where the hashes of an answer's opening, length and ending met.
                text = texts[start + i]
                by_length = self.by_prefix.get(text[at : at + MIN_CHARS])
                ids = by_length.get(length, {}).get(text[at : at + length]) if by_length else None
                if ids:
                    found.setdefault(start + i, []).extend(ids)
            start = end
        return {i: sorted(set(ids)) for i, ids in found.items()}

    def _matches(self, texts: list[str]) -> list[tuple[int, int, int]]:
        """(text index, position, answer length) wherever the hash join meets: a superset of the hits."""
        # Normalised texts hold no newline, and neither do the answers: a window across two texts that
        # hashes like an answer's only costs one exact look.
        hashes = _window_hashes(_code_points(texts, "\n"))
        positions = np.flatnonzero(self._screen[hashes >> np.uint64(64 - _SCREEN_BITS)])
        group = _index_in(hashes[positions], self._anchor_set)
        known = group >= 0
        positions, group = positions[known], group[known]
        counts = self._group_count[group]
        # One row per (position, answer anchored on its window): that answer would start `anchor_at` earlier.
        pair = np.repeat(self._group_low[group], counts) + _ranks(counts)
        lengths = self._anchor_length[pair]
        starts = np.repeat(positions, counts) - self._anchor_at[pair]
        last_at = starts + lengths - MIN_CHARS
        inside = (starts >= 0) & (last_at < hashes.size)
        starts, lengths, last_at = starts[inside], lengths[inside], last_at[inside]
        keys = _mix(
            hashes[starts], lengths.astype(np.uint64), hashes[starts + _middle(lengths)], hashes[last_at]
        )
        met = _index_in(keys, self._answer_set) >= 0
        starts, lengths = starts[met], lengths[met]
        text_starts = np.cumsum([0] + [len(t) + 1 for t in texts[:-1]])
        which = np.searchsorted(text_starts, starts, side="right") - 1
        return list(
            zip(which.tolist(), (starts - text_starts[which]).tolist(), lengths.tolist(), strict=True)
        )

    def _exact(self, text: str) -> list[str]:
        """The per-position lookup over a normalised text."""
        found: list[str] = []
        prefixes = self.by_prefix
        for start in range(len(text) - MIN_CHARS + 1):
            bucket = prefixes.get(text[start : start + MIN_CHARS])
            if bucket:
                for length, texts in bucket.items():
                    found += texts.get(text[start : start + length], ())
        return sorted(set(found))


def _prepare(haystack: str, markdown: bool) -> str:
    return normalise(_MD_ESCAPE_RE.sub(r"\1", haystack) if markdown else haystack)


def _code_points(texts: list[str], separator: str = "") -> np.ndarray:
    """The code points of `texts` joined by `separator` (lone surrogates kept as they are)."""
    joined = separator.join(texts).encode("utf-32-le", "surrogatepass")
    return np.frombuffer(joined, dtype="<u4").astype(np.uint64)


def _ranks(counts: np.ndarray) -> np.ndarray:
    """0, 1, ..., count - 1 for each count, concatenated."""
    return np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)


def _answer_windows(texts: list[str], lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The hashes of every window inside each answer, their offsets, and where each answer's windows begin."""
    hashes = _window_hashes(_code_points(texts, "\n"))
    per_text = lengths - MIN_CHARS + 1
    first = np.cumsum(per_text) - per_text
    offsets = _ranks(per_text)
    text_starts = np.cumsum(lengths + 1) - (lengths + 1)
    return hashes[np.repeat(text_starts, per_text) + offsets], offsets, first


def _anchors(texts: list[str], lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per answer, the hash and offset of its window least frequent among all answers' windows (earliest on
    ties). Frequencies are counted in hash buckets, chunk by chunk, so memory stays bounded."""
    bits = _SCREEN_BITS
    shift = np.uint64(64 - bits)
    chunks = list(_chunk_bounds(lengths))
    # One chunk (the usual case) keeps its windows for the second pass instead of hashing them again.
    kept = [_answer_windows(texts[lo:hi], lengths[lo:hi]) for lo, hi in chunks] if len(chunks) == 1 else None
    counts = np.zeros(1 << bits, dtype=np.int64)
    for i, (lo, hi) in enumerate(chunks):
        hashes, _, _ = kept[i] if kept else _answer_windows(texts[lo:hi], lengths[lo:hi])
        counts += np.bincount((hashes >> shift).astype(np.int64), minlength=1 << bits)
    anchor, anchor_at = [np.zeros(0, np.uint64)], [np.zeros(0, np.int64)]
    for i, (lo, hi) in enumerate(chunks):
        hashes, offsets, first = kept[i] if kept else _answer_windows(texts[lo:hi], lengths[lo:hi])
        rank = counts[(hashes >> shift).astype(np.int64)] * (MAX_COMPARED + 1) + offsets
        best = np.minimum.reduceat(rank, first) % (MAX_COMPARED + 1)
        anchor.append(hashes[first + best])
        anchor_at.append(best)
    return np.concatenate(anchor), np.concatenate(anchor_at)


def _chunk_bounds(lengths: np.ndarray) -> Iterator[tuple[int, int]]:
    """(start, end) ranges of answers holding about _CHUNK_CHARS characters each."""
    start, size = 0, 0
    for end, length in enumerate(lengths.tolist(), 1):
        size += length + 1
        if size >= _CHUNK_CHARS or end == len(lengths):
            yield start, end
            start, size = end, 0


def _index_in(values: np.ndarray, value_set: np.ndarray) -> np.ndarray:
    """Per value, its index in the sorted distinct `value_set` or -1 (a binary search: numpy only, so a
    forked worker can run it)."""
    if not len(value_set):
        return np.full(len(values), -1, dtype=np.int64)
    at = np.minimum(np.searchsorted(value_set, values), len(value_set) - 1)
    return np.where(value_set[at] == values, at, -1)


def _middle(length):  # int or int64 array
    """Where an answer's middle window starts (inside the answer: it is at least MIN_CHARS long)."""
    return (length - MIN_CHARS) // 2


def _mix(first: np.ndarray, lengths: np.ndarray, middle: np.ndarray, last: np.ndarray) -> np.ndarray:
    """One 64-bit key per (first window hash, length, middle and last window hashes)."""
    mixed = first * np.uint64(0x9E3779B97F4A7C15) ^ lengths * np.uint64(0xC2B2AE3D27D4EB4F)
    return (mixed + middle) * np.uint64(0x165667B19E3779F9) ^ last


def _window_hashes(points: np.ndarray) -> np.ndarray:
    """A polynomial hash (mod 2**64) of every MIN_CHARS-long window of `points`, by start position.

    Built by doubling, H(i, 2w) = H(i, w) * B**w + H(i + w, w): four passes for 16 characters, the same
    values as the sum over the window of point * B**(16 - 1 - offset).
    """
    count = points.size - MIN_CHARS + 1
    if count <= 0:
        return np.zeros(0, dtype=np.uint64)
    hashes, width = points, 1
    while width < MIN_CHARS:  # MIN_CHARS is a power of two
        hashes = hashes[:-width] * np.uint64(pow(int(_HASH_BASE), width, 1 << 64)) + hashes[width:]
        width *= 2
    return hashes[:count]


def nested_strings(value: Any) -> list[str]:
    """Every string inside `value`, however deep in mappings, lists and tuples, in order.

    One loop over an explicit stack, exact types first: rows of a release hold millions of values, and a
    recursive generator with an abstract-class test per value cost more than the scan itself.
    """
    found: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str:
            found.append(item)
        elif kind is dict:
            stack.extend(reversed(list(item.values())))
        elif kind is list or kind is tuple:
            stack.extend(reversed(item))
        elif item is None or kind is int or kind is float or kind is bool:
            continue
        elif isinstance(item, str):
            found.append(item)
        elif isinstance(item, Mapping):
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, list | tuple):
            stack.extend(reversed(item))
    return found


def row_structure_leak(row: Mapping[str, Any], hidden_ids: set[str]) -> str | None:
    """Why a published row reveals a hidden answer's action or text, or None."""
    if str(row.get("id")) not in hidden_ids:
        return None
    if row.get("action") is not None or row.get("actions") is not None:
        return "carries its action"
    messages = row.get("thread") or []
    last = messages[-1] if messages else {}
    if isinstance(last, Mapping) and (last.get("actions") is not None or last.get("text") is not None):
        return "last message carries its action or text"
    return None


def load_answer_rows(files: Iterable[Path]) -> list[dict[str, Any]]:
    rows = []
    for file in files:
        rows += [json.loads(line) for line in file.read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows
