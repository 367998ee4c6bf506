"""Privacy scans over stored tables: identifier leaks and the secret.

The leak scan collects every DID, handle, email and URL that occurs in the raw events (as keyed digests:
`lib.privacy.identifier_digests`, harvested per raw part by `lib.privacy.identifier_store`), then looks for
them in every string column of an output table. Both sides go through the same tokenizer, so a leak is
found whatever the surrounding text. Findings name the table, column and identifier type, never the
value: the value is the personal data the scan protects.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj
import pyarrow.parquet as pq

from blueprint_assets.lib.arrays import distinct_sorted
from blueprint_assets.lib.parallel import forked_map
from blueprint_assets.lib.privacy.identifier_digests import KnownIdentifiers
from blueprint_assets.lib.privacy.identifiers import DID_SCAN_REGEX, SCAN_REGEXES

DID_PATTERN = re.compile(DID_SCAN_REGEX, re.IGNORECASE)
# The same pattern case-sensitive, for lowercased text: its literal `did:` prefix is then searched for in C.
_LOWERCASE_DID_PATTERN = re.compile(DID_SCAN_REGEX)
assert _LOWERCASE_DID_PATTERN.groups == 0, "lowercase_dids' findall must return whole matches"
EMAIL_PATTERN = re.compile(SCAN_REGEXES["email"], re.IGNORECASE)
URL_PATTERN = re.compile(SCAN_REGEXES["url"], re.IGNORECASE)
MENTION_PATTERN = re.compile(SCAN_REGEXES["mention"], re.IGNORECASE)
BARE_DOMAIN_PATTERN = re.compile(SCAN_REGEXES["bare_domain"], re.IGNORECASE)
# Every domain has a label character, a dot and a letter in a row (its last label's end, the TLD's start):
# a text without one holds no domain, and this search is far cheaper than the domain pattern's.
_DOMAIN_GATE = re.compile(r"[a-z0-9]\.[a-z]", re.IGNORECASE)
# What Arrow (RE2) tests instead, a superset: case folding adds to [a-z0-9] only non-ASCII characters (the
# Kelvin sign, the long s, the dotted and dotless i), so any non-ASCII character stands in for them.
_DOMAIN_GATE_SUPERSET = r"[A-Za-z0-9\x{80}-\x{10FFFF}]\.[A-Za-z\x{80}-\x{10FFFF}]"
TRAILING = ".,;:!?)]}'\""
# An e-mail address's local part read backwards from its `@` (`find_emails`), and how far back it is read
# before the whole pattern is searched instead (a local part that long is not worth a fast path).
_LOCAL_PART_REVERSED = re.compile(r"[\w.+\-]*", re.IGNORECASE)  # the e-mail pattern's class and flags
_LOCAL_PART_LOOKBACK = 256


@dataclass(frozen=True)
class Finding:
    """One failed scan: where, and what kind of identifier (never the value)."""

    table: str
    column: str
    kind: str
    rows: int

    def __str__(self) -> str:
        return f"{self.table}.{self.column}: {self.rows} row(s) contain a raw {self.kind}"


# The two characters the pattern's case folding takes for an `i` that `str.lower()` does not make one
# (and U+0130 is the one character whose lowercase is two characters long, which would shift positions).
_DOTTED_DOTLESS_I = ("\u0130", "\u0131")
# Every non-ASCII character the case-insensitive pattern takes for an ASCII letter: the two i's and the long
# s, which `str.lower()` does not make that letter (U+0130 becomes two characters), and the Kelvin sign
# (which it makes a `k`: listed all the same, so the fast path rests on no character of the four).
_FOLDED_TO_ASCII = (*_DOTTED_DOTLESS_I, "\u017f", "\u212a")


def find_dids(text: str) -> Iterator[str]:
    """What `DID_PATTERN.finditer(text)` matches, tried only where the lowercased text holds `did:` (every
    match starts there: the pattern's case folding turns only `D` and `I` into `d` and `i`, as `lower()`
    does), not at every character. A text with a dotted or dotless capital-i is searched in full."""
    if any(char in text for char in _DOTTED_DOTLESS_I):
        yield from (match.group(0) for match in DID_PATTERN.finditer(text))
        return
    lowered, end = text.lower(), 0
    at = lowered.find("did:")
    while at >= 0:
        match = DID_PATTERN.match(text, at)
        if match is not None:
            yield match.group(0)
            end = match.end()
        at = lowered.find("did:", max(at + 1, end))


def lowercase_dids(text: str) -> list[str]:
    """`[did.lower() for did in find_dids(text)]` (a DID ends in a letter or digit: nothing to strip).

    Without a character that folds to an ASCII letter (`_FOLDED_TO_ASCII`), the case-insensitive pattern
    matches the text where the case-sensitive one matches its lowercase (which keeps every position): one
    `findall` in C, and no lowering per DID.
    """
    if any(char in text for char in _FOLDED_TO_ASCII):
        return [did.lower() for did in find_dids(text)]
    return _LOWERCASE_DID_PATTERN.findall(text.lower())


def find_urls(text: str) -> Iterator[str]:
    """What `URL_PATTERN.finditer(text)` matches, found from the `://` of each: every match holds one right
    after its scheme (`https`, `http` or `at`, 5, 4 or 2 characters before it), so the pattern is only
    tried at those places (leftmost first, never inside an earlier match), not at every character of the
    line. About 3.5x cheaper on raw Jetstream lines, where most hold an `at://` URI."""
    end, colon = 0, text.find("://")
    while colon >= 0:
        for start in (colon - 5, colon - 4, colon - 2):
            match = URL_PATTERN.match(text, start) if start >= end else None
            if match is not None:
                yield match.group(0)
                end = match.end()
                break
        colon = text.find("://", max(colon + 1, end))


def find_emails(text: str) -> Iterator[str]:
    """What `EMAIL_PATTERN.finditer(text)` matches, tried only once per `@`, not at every character.

    A match holds one `@` (neither part has one), and its look-behind lets it start only where the run of
    local-part characters before that `@` starts: the pattern is tried there alone, unless the run starts
    inside the previous match (which no match then follows, as `finditer` would find).
    """
    end, at = 0, text.find("@")
    while at >= 0:
        before = text[max(0, at - _LOCAL_PART_LOOKBACK) : at]
        run = _LOCAL_PART_REVERSED.match(before[::-1]).end()  # type: ignore[union-attr]  # `*` always matches
        if run == _LOCAL_PART_LOOKBACK:  # it may run further back
            yield from (match.group(0) for match in EMAIL_PATTERN.finditer(text, end))
            return
        start = at - run
        if run and start >= end:
            match = EMAIL_PATTERN.match(text, start)
            if match is not None:
                yield match.group(0)
                end = match.end()
        at = text.find("@", at + 1)


def find_mentions(text: str) -> Iterator[str]:
    """The handles (group 1) of `MENTION_PATTERN.finditer(text)`: every match starts at an `@`, so the
    pattern is tried only there (and ends before the next `@`: a domain holds none)."""
    at = text.find("@")
    while at >= 0:
        match = MENTION_PATTERN.match(text, at)
        if match is not None:
            yield match.group(1)
        at = text.find("@", at + 1)


def _clean(value: str) -> str:
    return value.lower().rstrip(TRAILING)


def harvest_identifiers(raw_lines: Iterable[str | None], handles: Iterable[str | None] = ()) -> set[str]:
    """Identifier values present in raw events: DIDs, emails, URLs, @-mentioned and known handles.

    Bare domains in text (`node.js`, `nytimes.com`) are not harvested: they are not personal on their own.
    """
    found: set[str] = set()
    for line in raw_lines:
        if not line:
            continue
        if "did:" in line:
            found.update(lowercase_dids(line))
        if "@" in line:
            found.update(_clean(email) for email in find_emails(line))
            found.update(_clean(handle) for handle in find_mentions(line))
        if "://" in line:
            found.update(_clean(url) for url in find_urls(line))
    found.update(_clean(h) for h in handles if h)
    return {value for value in found if len(value) >= 6}


def _may_hold_did(text: str) -> bool:
    """Whether `find_dids` could match: `did:` in any case (an output may upper-case a DID), or a dotted or
    dotless capital-i (the pattern folds those to an `i`)."""
    return "did:" in text or "did:" in text.lower() or any(char in text for char in _DOTTED_DOTLESS_I)


def tokens_with_kinds(text: str) -> set[tuple[str, str]]:
    """(kind, value) for every identifier-shaped token of an output string."""
    tokens: set[tuple[str, str]] = set()
    if "." not in text and ":" not in text:
        return tokens  # every identifier kind needs a dot or a colon (pseudonyms and plain words skip here)
    if _may_hold_did(text):
        tokens |= {("DID", did) for did in lowercase_dids(text)}
    if "@" in text:
        tokens |= {("EMAIL_ADDRESS", _clean(email)) for email in find_emails(text)}
    if "://" in text:
        tokens |= {("URL", _clean(url)) for url in find_urls(text)}
    if "." in text and _DOMAIN_GATE.search(text) is not None:
        tokens |= {("HANDLE", _clean(m.group(1))) for m in BARE_DOMAIN_PATTERN.finditer(text)}
    return tokens


def string_columns(table: pa.Table) -> Iterator[tuple[str, list[tuple[pa.Array, np.ndarray]]]]:
    """(column name, its string leaves) for every column: each leaf is (strings, row of each string);
    nested lists, structs and maps are unnested to their strings, each scanned on its own, and bytes are
    read as UTF-8 text. Chunk by chunk: one array of a whole column could pass Arrow's 2 GiB offsets."""
    for name in table.column_names:
        leaves, start = [], 0
        for chunk in table.column(name).chunks:
            leaves += _leaf_strings(chunk, np.arange(start, start + len(chunk)))
            start += len(chunk)
        yield name, leaves


def _leaf_strings(array: pa.Array, rows: np.ndarray) -> Iterator[tuple[pa.Array, np.ndarray]]:
    kind = array.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        yield array, rows
    elif pa.types.is_string_view(kind):
        yield array.cast(pa.large_string()), rows
    elif pa.types.is_binary(kind) or pa.types.is_large_binary(kind) or pa.types.is_fixed_size_binary(kind):
        text = [None if v is None else v.decode("utf-8", "replace") for v in array.to_pylist()]
        yield pa.array(text, pa.large_string()), rows
    elif isinstance(kind, pa.ExtensionType):
        yield from _leaf_strings(array.storage, rows)
    elif pa.types.is_dictionary(kind):
        yield from _leaf_strings(array.dictionary_decode(), rows)
    elif pa.types.is_map(
        kind
    ):  # as the list of (key, value) structs it is: Arrow's list kernels abort on maps
        entries = pa.struct([pa.field("key", kind.key_type, nullable=False), kind.item_field])
        yield from _leaf_strings(array.cast(pa.list_(entries)), rows)
    elif pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind):
        # `flatten` skips the values behind null lists, so parents come from the lengths (null: 0), which
        # skip them too (`list_parent_indices` would not).
        lengths = pc.fill_null(pc.list_value_length(array), 0).to_numpy(zero_copy_only=False)
        yield from _leaf_strings(array.flatten(), np.repeat(rows, lengths))
    elif pa.types.is_struct(kind):
        for field_values in array.flatten():  # the struct's nulls applied to each field
            yield from _leaf_strings(field_values, rows)
    elif pa.types.is_nested(kind):  # any other nesting (unions): each value as its text
        yield pa.array([None if v is None else repr(v) for v in array.to_pylist()], pa.string()), rows


def _rows_where(leaves: list[tuple[pa.Array, np.ndarray]], test) -> int:
    """How many distinct rows hold a string of `leaves` for which the Arrow mask `test(strings)` is true."""
    hit = [rows[pc.fill_null(test(values), False).to_numpy(zero_copy_only=False)] for values, rows in leaves]
    return int(distinct_sorted(np.concatenate(hit)).size) if hit else 0


def token_candidates(leaves: list[tuple[pa.Array, np.ndarray]]) -> list[str]:
    """The distinct strings of a column's leaves in which `tokens_with_kinds` could find a token: it finds
    none in a string without a dot or a colon, nor in one without `did:` (any case, `_may_hold_did`), `@`,
    `://` or a domain's letter-dot-letter (`_DOMAIN_GATE`). Arrow tests that in C++, once per distinct
    string of the whole column (a release's Ks repeat every text, each K in chunks of its own), leaving
    Python the few that pass."""
    kind = pa.large_string()
    distinct = []
    for values, _ in leaves:
        dotted = pc.or_(pc.match_substring(values, "."), pc.match_substring(values, ":"))
        distinct.append(pc.unique(values.filter(pc.fill_null(dotted, False))).cast(kind))
    if not distinct:
        return []
    merged = pc.unique(pa.chunked_array(distinct, kind))
    marked = [pc.match_substring(merged, needle) for needle in ("@", "://", *_DOTTED_DOTLESS_I)]
    marked.append(pc.match_substring(merged, "did:", ignore_case=True))
    marked.append(pc.match_substring_regex(merged, _DOMAIN_GATE_SUPERSET))
    maybe = functools.reduce(pc.or_, marked)
    return merged.filter(pc.fill_null(maybe, False)).to_pylist()


def leak_scan(table_name: str, table: pa.Table, known: KnownIdentifiers | Collection[str]) -> list[Finding]:
    """Columns of `table` in which any raw identifier from `known` appears."""
    if not isinstance(known, KnownIdentifiers):
        known = KnownIdentifiers.of_values(known)
    findings = []
    for column, leaves in string_columns(table):
        found = [
            (value, kind, token)
            for value in token_candidates(leaves)
            for kind, token in tokens_with_kinds(value)
        ]
        leaky: dict[str, set[str]] = {}
        for (value, kind, _), hit in zip(
            found, known.contains([token for _, _, token in found]), strict=True
        ):
            if hit:
                leaky.setdefault(kind, set()).add(value)
        for kind, leaked in sorted(leaky.items()):
            value_set = pa.array(sorted(leaked), pa.string())
            rows = _rows_where(
                leaves, lambda values, v=value_set: pc.is_in(values, value_set=v.cast(values.type))
            )
            findings.append(Finding(table_name, column, kind, rows))
    return findings


def secret_scan(table_name: str, table: pa.Table, secret: bytes) -> list[Finding]:
    """Columns of `table` that contain the pseudonymization secret (as text)."""
    needle = secret.decode("utf-8", errors="ignore").strip()
    if len(needle) < 8:
        raise ValueError("the pseudonymization secret is too short to scan for safely (use >= 16 characters)")
    findings = []
    for column, leaves in string_columns(table):
        rows = _rows_where(leaves, lambda values: pc.match_substring(values, needle))
        if rows:
            findings.append(Finding(table_name, column, "secret", rows))
    return findings


def lake_raw_identifiers(raw: pa.Table | None, workers: int = 1) -> set[str]:
    """Identifiers in raw_events rows (columns kind, raw), including identity events' handles; the lines
    are harvested by `workers` forked processes (lib/parallel.py)."""
    if raw is None:
        return set()
    lines = raw.column("raw").to_pylist()
    found = harvest_identifiers([], identity_handles(raw.column("kind").to_pylist(), lines))
    for part in forked_map(harvest_identifiers, lines, workers):
        found |= part
    return found


def identity_handles(kinds: list[str | None], lines: list[str | None]) -> list[str | None]:
    """The handles identity events announce (raw_events' kind and raw columns)."""
    return [
        json.loads(line).get("identity", {}).get("handle")
        for kind, line in zip(kinds, lines, strict=True)
        if kind == "identity" and '"handle"' in line
    ]


def row_file_table(path: Path) -> pa.Table | None:
    """A Parquet or JSON-lines file as one Arrow table, else None (also for JSON lines Arrow cannot read
    as one table of objects, or would change: read those line by line)."""
    if path.suffix == ".parquet":
        return pq.read_table(path, partitioning=None)
    if path.suffix == ".jsonl":
        try:
            table = pj.read_json(path)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
        # Arrow reads a date-like string as a timestamp, which is no longer a string to compare.
        return table if all(_json_typed(f.type) for f in table.schema) else None
    return None


def _json_typed(kind: pa.DataType) -> bool:
    """Whether Arrow kept a JSON value as JSON has it: strings, numbers, booleans, nulls, lists, objects."""
    if pa.types.is_list(kind):
        return _json_typed(kind.value_type)
    if pa.types.is_struct(kind):
        return all(_json_typed(field.type) for field in kind)
    return (
        pa.types.is_string(kind) or pa.types.is_integer(kind) or pa.types.is_floating(kind)
        or pa.types.is_boolean(kind) or pa.types.is_null(kind)
    )  # fmt: skip


def _field_names(kind: pa.DataType | pa.Schema) -> Iterator[str]:
    """Every field name of a schema or type, nested ones included (a JSON object's keys)."""
    for field in kind if isinstance(kind, pa.Schema | pa.StructType) else ():
        yield field.name
        inner = field.type
        while pa.types.is_list(inner) or pa.types.is_large_list(inner) or pa.types.is_fixed_size_list(inner):
            inner = inner.value_type
        yield from _field_names(inner)


def table_strings(table: pa.Table) -> pa.Array:
    """Every string value of the table's columns, however nested, as one array."""
    leaves = [values.cast(pa.large_string()) for _, column in string_columns(table) for values, _ in column]
    return pa.concat_arrays(leaves) if leaves else pa.array([], pa.large_string())


def file_strings(path: Path) -> pa.Array:
    """What a scan reads of a file: a Parquet or JSON-lines file's strings and field names, any other
    file's text whole (a PNG's bytes as Latin-1)."""
    table = row_file_table(path) if path.suffix in (".parquet", ".jsonl") else None
    if table is not None:
        names = pa.array(list(_field_names(table.schema)), pa.large_string())
        return pa.concat_arrays([table_strings(table), names])
    if path.suffix == ".jsonl":
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        return pa.array(lines, pa.large_string())
    if path.suffix == ".png":
        return pa.array([path.read_bytes().decode("latin-1")], pa.large_string())
    return pa.array([path.read_text(errors="replace")], pa.large_string())


def folder_as_table(root: Path) -> pa.Table:
    """Every file below `root` as a (file, content) row for scanning, content the list of its strings
    (`file_strings`): the scans then read each distinct string once, whichever files repeat it."""
    files, contents = [], []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        files.append(path.relative_to(root).as_posix())
        contents.append(file_strings(path))
    offsets = np.cumsum([0] + [len(c) for c in contents]).astype(np.int64)
    values = pa.concat_arrays(contents) if contents else pa.array([], pa.large_string())
    return pa.table({"file": files, "content": pa.LargeListArray.from_arrays(offsets, values)})


def thread_texts(threads: pa.Table) -> list[str]:
    """Every message text of an action_threads-shaped table."""
    return [m["text"] for thread in threads.column("thread").to_pylist() for m in thread if m.get("text")]
