"""From the private action table to the public-safe `anonymized_posts` table (pure, no Dagster).

Every action row is kept, with identifiers replaced by keyed pseudonyms and text-bearing rows'
text anonymized (facet mentions and links included). Opted-out accounts are dropped, both as actors
and as subjects (likes of their posts, follows of them).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from blueprint_assets.lib.ingest.actions import facet_spans
from blueprint_assets.lib.privacy.involvement import Matcher, involved_mask

ANONYMIZED_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("day", pa.string()),
        ("time_us", pa.int64()),
        ("action", pa.string()),
        ("actor", pa.string()),
        ("record_id", pa.string()),
        ("text", pa.string()),
        ("lang", pa.string()),
        ("is_english", pa.bool_()),
        ("reply_parent_id", pa.string()),
        ("reply_root_id", pa.string()),
        ("quote_id", pa.string()),
        ("subject_id", pa.string()),
        ("subject_user", pa.string()),
        ("pii_counts", pa.string()),
        ("resolved", pa.bool_()),
    ]
)
PSEUDONYMIZED = {
    "event_id": "event_key",
    "actor": "actor_did",
    "record_id": "record_uri",
    "reply_parent_id": "reply_parent_uri",
    "reply_root_id": "reply_root_uri",
    "quote_id": "quote_uri",
    "subject_id": "subject_uri",
    "subject_user": "subject_did",
}


def _lowered(lang: str | None) -> str | None:
    return lang.lower() if lang is not None else None


def _is_english_tag(lang: str | None) -> bool:
    return lang is not None and lang.lower().split("-")[0] == "en"


def _mapped(column: pa.ChunkedArray | pa.Array, many: Callable[[list], list], type_: pa.DataType) -> pa.Array:
    """`many(values)` spread over the column: called once, on its distinct values (ids and tags repeat)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    if pa.types.is_null(column.type):  # a column of nulls only, typed as such
        return pa.array(many([None]) * len(column), type_)
    distinct = pc.unique(column)
    return pa.array(many(distinct.to_pylist()), type_).take(pc.index_in(column, value_set=distinct))


def _each(function: Callable) -> Callable[[list], list]:
    return lambda values: [function(value) for value in values]


def _language_columns(langs: pa.ChunkedArray) -> tuple[pa.Array, pa.Array]:
    """`lang` (the first tag, lowercased) and `is_english` (any tag's language is `en`) of every row."""
    langs = langs.combine_chunks()
    rows = len(langs)
    if pa.types.is_null(langs.type):  # no row has tags
        return pa.nulls(rows, pa.string()), pa.array(np.zeros(rows, dtype=bool))
    lengths = pc.fill_null(pc.list_value_length(langs), 0).to_numpy(zero_copy_only=False)
    has_tags = lengths > 0
    primary = np.full(rows, None, dtype=object)
    if has_tags.any():
        first = pc.list_element(langs.filter(pa.array(has_tags)), 0)
        primary[has_tags] = _mapped(first, _each(_lowered), pa.string()).to_numpy(zero_copy_only=False)
    english = np.zeros(rows, dtype=bool)
    tags = pc.list_flatten(langs)
    if len(tags):
        flags = _mapped(tags, _each(_is_english_tag), pa.bool_()).to_numpy(zero_copy_only=False)
        # Parents from the lengths: `list_flatten` skips values behind null lists, and so do they.
        english[np.repeat(np.arange(rows), lengths)[flags]] = True
    return pa.array(primary, pa.string()), pa.array(english)


PASSED_THROUGH = ("day", "time_us", "action", "resolved")


def _passed_through(column: pa.ChunkedArray, field: pa.Field) -> pa.ChunkedArray:
    """An actions column as the schema types it; only a change of width is cast, any other type refused
    (a drifted upstream schema must fail here, not change the published values)."""
    kind = column.type
    same_kind = (
        kind == field.type
        or (
            pa.types.is_string(field.type)
            and (pa.types.is_large_string(kind) or pa.types.is_string_view(kind))
        )
        or (pa.types.is_integer(field.type) and pa.types.is_integer(kind))
    )
    if not same_kind:
        raise TypeError(f"actions column {field.name} is {kind}, expected {field.type}")
    return column.cast(field.type)


def _kept(actions: pa.Table, opted_out: Matcher | None) -> pa.Table:
    """The rows that involve no opted-out account (None: nobody opted out, every row is kept)."""
    if opted_out is None:
        return actions
    return actions.filter(pa.array(~involved_mask(actions, opted_out), pa.bool_()))


def anonymize_actions(
    actions: pa.Table,
    pseudonymize: Callable[[list[str | None]], list[str | None]],
    anonymize_texts: Callable[[list[str], list[list]], list],
    opted_out: Matcher | None = None,
) -> tuple[pa.Table, dict]:
    """Return the anonymized table and counts (rows, opted-out rows, PII by type).

    Column by column: `pseudonymize` (a list of identifiers to their pseudonyms, None to None) gets each
    column's distinct values once, and only rows with text go through Python. Rows that involve an account
    `opted_out` matches (None when nobody opted out) are dropped, by the column-wise rule of involvement.py.
    """
    kept = _kept(actions, opted_out)
    rows = kept.num_rows
    has_text = pc.fill_null(pc.not_equal(kept.column("text"), ""), False)
    with_text = kept.filter(has_text)
    results = anonymize_texts(
        with_text.column("text").to_pylist(),
        [facet_spans(facets) for facets in with_text.column("facets_json").to_pylist()],
    )
    texts = np.full(rows, None, dtype=object)
    pii_counts = np.full(rows, "{}", dtype=object)
    pii: Counter[str] = Counter()
    positions = np.flatnonzero(has_text.to_numpy(zero_copy_only=False)).tolist()
    for position, result in zip(positions, results, strict=True):
        counts = dict(sorted(result.counts.items()))
        pii.update(counts)
        texts[position] = result.text
        pii_counts[position] = json.dumps(counts)
    lang, english = _language_columns(kept.column("langs"))
    columns = {
        public: _mapped(kept.column(private), pseudonymize, pa.string())
        for public, private in PSEUDONYMIZED.items()
    }
    columns.update(
        text=pa.array(texts, pa.string()),
        lang=lang,
        is_english=english,
        pii_counts=pa.array(pii_counts, pa.string()),
        **{
            name: _passed_through(kept.column(name), ANONYMIZED_SCHEMA.field(name)) for name in PASSED_THROUGH
        },
    )
    table = pa.table([columns[name] for name in ANONYMIZED_SCHEMA.names], schema=ANONYMIZED_SCHEMA)
    return table, {
        "rows": rows,
        "opted_out_rows": actions.num_rows - rows,
        "pii_by_type": dict(sorted(pii.items())),
    }
