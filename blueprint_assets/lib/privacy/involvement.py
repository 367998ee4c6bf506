"""Which rows involve an account: THE rule of opt-out and forget, row by row and column by column.

A row involves every identifier in its identifier columns, the author DID of every record URI it holds, and
every DID and every @-mentioned handle written in its free text (lowercased): a post that names an account
by handle only, with no mention facet, still involves it. `involved_ids` states the rule for one row;
`involved_mask` applies it to a whole table column by column (each column's distinct values tested once,
only the rows whose text may name a sought account read in Python), with the same result row for row.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from blueprint_assets.lib.privacy.identifiers import HANDLE_REGEX_ASCII, MENTIONED_HANDLE_REGEX
from blueprint_assets.lib.privacy.scans import DID_PATTERN

URI_COLUMNS = ("record_uri", "reply_parent_uri", "reply_root_uri", "quote_uri", "subject_uri")
# Columns whose value is an account or record identifier (raw in private tables, pseudonymized in public ones).
IDENTIFIER_COLUMNS = ("did", "actor_did", "subject_did", "event_key", *URI_COLUMNS, "event_id", "actor",
                      "record_id", "reply_parent_id", "reply_root_id", "quote_id", "subject_id", "subject_user",
                      "user")  # fmt: skip
# Free-text columns: a DID written anywhere in them (a mention facet, a pasted DID), or a handle written as
# an @-mention, involves that account.
TEXT_COLUMNS = ("text", "facets_json", "raw")

HANDLE_MENTION = re.compile(MENTIONED_HANDLE_REGEX)  # ASCII classes: no flag (identifiers.py)

# Per value of a string array of identifiers (never null or empty), whether it is sought.
Matcher = Callable[[pa.Array], np.ndarray]


def uri_author(uri: str | None) -> str | None:
    """The DID in `at://<did>/...`."""
    if not uri or not uri.startswith("at://"):
        return None
    return uri[5:].split("/", 1)[0]


def text_dids(text: str | None) -> set[str]:
    """The DIDs written in a text, lowercased."""
    if not text or "did:" not in text.lower():
        return set()
    return {match.group(0).lower() for match in DID_PATTERN.finditer(text)}


def text_handles(text: str | None) -> set[str]:
    """The handles a text @-mentions, lowercased."""
    if not text or "@" not in text:
        return set()
    return {match.group(1).lower() for match in HANDLE_MENTION.finditer(text)}


def involved_ids(row: dict) -> set[str]:
    """Every account/record identifier a row involves: identifier columns, the author DID of every record
    URI, and every DID and @-mentioned handle written in a text column (lowercased)."""
    ids = {value for c in IDENTIFIER_COLUMNS if isinstance(value := row.get(c), str) and value}
    ids.update(author for c in URI_COLUMNS if (author := uri_author(row.get(c))))
    for column in TEXT_COLUMNS:
        ids |= text_dids(row.get(column)) | text_handles(row.get(column))
    return ids


def members_of(ids: Collection[str]) -> Matcher:
    """The matcher of an explicit set of identifiers."""
    sought = pa.array(sorted(ids), pa.large_string())
    return lambda values: pc.is_in(values, value_set=sought).to_numpy(zero_copy_only=False)


def any_of(*matchers: Matcher) -> Matcher:
    """The matcher of what any of `matchers` accepts."""
    if len(matchers) == 1:
        return matchers[0]
    return lambda values: np.logical_or.reduce([np.asarray(m(values), dtype=bool) for m in matchers])


# A whole value that is a handle, as `text_handles` gives them: no DID, URI or hex pseudonym is one.
_WHOLE_HANDLE = f"^{HANDLE_REGEX_ASCII}$"


def handles_pseudonymized_in(pseudonyms: Collection[str], many: Callable[[list], list]) -> Matcher:
    """The matcher of handles known only by pseudonym (the opt-out log's): a lowercased handle whose
    pseudonym (`many`, a batch of identifiers to their pseudonyms) is one of `pseudonyms`."""
    sought = pa.array(sorted(pseudonyms), pa.large_string())

    def matches(values: pa.Array) -> np.ndarray:
        hit = np.zeros(len(values), dtype=bool)
        at = np.flatnonzero(
            pc.fill_null(pc.match_substring_regex(values, _WHOLE_HANDLE), False).to_numpy(
                zero_copy_only=False
            )
        )
        if not at.size:
            return hit
        candidates = values.take(pa.array(at))
        distinct = pc.unique(candidates)
        of_distinct = pa.array(many(distinct.to_pylist()), pa.large_string())
        found = distinct.filter(pc.is_in(of_distinct, value_set=sought))
        hit[at] = pc.is_in(candidates, value_set=found).to_numpy(zero_copy_only=False)
        return hit

    return matches


def dids_pseudonymized_in(pseudonyms: Collection[str], many: Callable[[list], list]) -> Matcher:
    """The matcher of accounts known only by pseudonym (the opt-out log): a DID whose pseudonym (`many`, a
    batch of identifiers to their pseudonyms) is one of `pseudonyms`; identifiers that are not DIDs never
    match."""

    sought = pa.array(sorted(pseudonyms), pa.large_string())

    def matches(values: pa.Array) -> np.ndarray:
        hit = np.zeros(len(values), dtype=bool)
        is_did = pc.starts_with(values, "did:")
        if not pc.any(is_did).as_py():  # a column of record ids or URIs: no DID to pseudonymize
            return hit
        dids = pc.unique(values.filter(is_did))  # an account acts many times a day: each DID once
        of_dids = pa.array(many(dids.to_pylist()), pa.large_string())
        opted_out = dids.filter(pc.is_in(of_dids, value_set=sought))
        if len(opted_out):
            hit |= pc.is_in(values, value_set=opted_out).to_numpy(zero_copy_only=False)
        return hit

    return matches


def involved_mask(
    table: pa.Table, matches: Matcher, text_needles: Collection[str] | None = None
) -> np.ndarray:
    """Per row, whether an identifier it involves (`involved_ids`) is one `matches` accepts.

    `text_needles`, when the sought accounts are known (forget: their DIDs and `@handle`s), lets only texts
    that contain one of them (ignoring case) be read in Python. Without it, every text holding a `did:` is,
    so `matches` must then seek DIDs only (the opt-out log's accounts, known by pseudonym).
    """
    hit = np.zeros(table.num_rows, dtype=bool)
    wanted = dict.fromkeys((*IDENTIFIER_COLUMNS, *TEXT_COLUMNS))  # a URI column is read once, for both uses
    strings = {name: _strings(table.column(name)) for name in wanted if name in table.column_names}
    for name in IDENTIFIER_COLUMNS:
        hit |= _matching(strings.get(name), matches)
    for name in URI_COLUMNS:
        if (column := strings.get(name)) is not None:
            authors = pc.struct_field(pc.extract_regex(column, r"^at://(?P<author>[^/]*)"), [0])
            hit |= _matching(authors, matches)
    for name in TEXT_COLUMNS:
        if (column := strings.get(name)) is not None:
            unsettled = np.flatnonzero(~hit & _may_hold(column, text_needles))
            if unsettled.size:
                hit[unsettled] = _any_matching(column.take(pa.array(unsettled)).to_pylist(), matches)
    return hit


def _strings(column: pa.ChunkedArray) -> pa.Array | None:
    """The column as one large_string array (None: not a string column, so it holds no identifier)."""
    array = column.combine_chunks()
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    if pa.types.is_string(array.type) or pa.types.is_string_view(array.type):
        array = array.cast(pa.large_string())  # 64-bit offsets: a day's raw lines can pass 2 GiB
    return array if pa.types.is_large_string(array.type) else None


def _matching(column: pa.Array | None, matches: Matcher) -> np.ndarray | bool:
    """Per row, whether its value (null and empty stand for none) is matched."""
    if column is None:
        return False
    present = pc.fill_null(pc.not_equal(column, ""), False)
    if present.false_count == 0:
        return matches(column)
    hit = np.zeros(len(column), dtype=bool)
    at = np.flatnonzero(present.to_numpy(zero_copy_only=False))
    hit[at] = matches(column.take(pa.array(at)))
    return hit


def _may_hold(texts: pa.Array, needles: Collection[str] | None) -> np.ndarray:
    """Rows whose text may name a sought DID: it contains `did:` (or one of the needles), ignoring case.

    Python's `lower()` maps only D/d, I/i and `:` onto "did:", so case-insensitive matching finds every text
    `text_dids` reads, and some more, which the exact reading then settles.
    """
    patterns = ["did:"] if needles is None else sorted({needle.lower() for needle in needles})
    may = np.zeros(len(texts), dtype=bool)
    for pattern in patterns:
        found = pc.match_substring(texts, pattern, ignore_case=True)
        may |= pc.fill_null(found, False).to_numpy(zero_copy_only=False)
    return may


def _any_matching(texts: list[str | None], matches: Matcher) -> list[bool]:
    """Per text, whether a DID or handle written in it is matched (each distinct one asked once)."""
    dids = [text_dids(text) | text_handles(text) for text in texts]
    distinct = sorted(set().union(*dids))
    sought = {
        did for did, hit in zip(distinct, matches(pa.array(distinct, pa.large_string())), strict=True) if hit
    }
    return [not found.isdisjoint(sought) for found in dids]
