"""The column-wise `anonymize_actions` gives exactly what the row-by-row rules give."""

from __future__ import annotations

import json

import pyarrow as pa

from blueprint_assets.lib.ingest.actions import facet_spans
from blueprint_assets.lib.privacy.anonymize_actions import (
    ANONYMIZED_SCHEMA,
    PSEUDONYMIZED,
    anonymize_actions,
)
from blueprint_assets.lib.privacy.anonymizer import text_anonymizer
from blueprint_assets.lib.privacy.involvement import dids_pseudonymized_in, involved_ids
from blueprint_assets.lib.privacy.pseudonyms import Pseudonymizer

SECRET = b"anonymize-actions-test"
LINK = json.dumps(
    [{"index": {"byteStart": 0, "byteEnd": 4}, "features": [{"$type": "app.bsky.richtext.facet#link"}]}]
)


def _row(i: int, **values) -> dict:
    row = dict.fromkeys(
        ["reply_parent_uri", "reply_root_uri", "quote_uri", "subject_uri", "subject_did", "facets_json"]
    )
    row.update(
        event_key=f"k{i}", day="2025-03-01", time_us=1_740_787_200_000_000 + i, action="post",
        actor_did=f"did:plc:user{i % 3}", record_uri=f"at://did:plc:user{i % 3}/app.bsky.feed.post/{i}",
        text=None, langs=None, resolved=True,
    )  # fmt: skip
    row.update(values)
    return row


ROWS = [
    _row(0, text="mail bob@example.com now", langs=["EN-us", "pt"], facets_json=LINK),
    _row(1, text="", langs=[]),  # empty text: no anonymization, no text
    _row(2, action="like", subject_uri="at://did:plc:user0/app.bsky.feed.post/0", langs=["Pt", "en"]),
    _row(3, text="call +44 20 7946 0958", langs=["ja"]),
    _row(4, action="follow", subject_did="did:plc:user1", record_uri=None, langs=["en-GB"]),
    _row(5, text="mail bob@example.com now", langs=None),  # repeated text
    _row(6, text="plain words", langs=["EN"], resolved=None),
]


def _expected(rows: list[dict], pseudonym: Pseudonymizer) -> list[dict]:
    """The rules row by row: pseudonyms per identifier, text scrubbed, first tag lowercased, any `en`."""
    anonymizer = text_anonymizer(False)
    out = []
    for row in rows:
        result = anonymizer.anonymize(row["text"], facet_spans(row["facets_json"])) if row["text"] else None
        counts = dict(sorted(result.counts.items())) if result else {}
        langs = row["langs"] or []
        out.append(
            {public: pseudonym(row[private]) for public, private in PSEUDONYMIZED.items()}
            | {
                "day": row["day"],
                "time_us": row["time_us"],
                "action": row["action"],
                "text": result.text if result else None,
                "lang": langs[0].lower() if langs else None,
                "is_english": any(t.lower().split("-")[0] == "en" for t in langs),
                "pii_counts": json.dumps(counts),
                "resolved": row["resolved"],
            }  # fmt: skip
        )
    return out


def test_column_wise_rows_equal_the_row_by_row_rules() -> None:
    pseudonym = Pseudonymizer(SECRET)
    anonymizer = text_anonymizer(False)
    table, stats = anonymize_actions(pa.Table.from_pylist(ROWS), pseudonym.many, anonymizer.anonymize_many)
    assert table.schema == ANONYMIZED_SCHEMA
    assert table.to_pylist() == _expected(ROWS, pseudonym)
    assert table.column("text")[0].as_py() == "<URL> <EMAIL_ADDRESS> now"  # the facet and the recognizer
    assert stats == {
        "rows": 7,
        "opted_out_rows": 0,
        "pii_by_type": {"EMAIL_ADDRESS": 2, "PHONE_NUMBER": 1, "URL": 1},
    }


def test_opted_out_rows_are_dropped_as_actor_and_as_subject() -> None:
    pseudonym = Pseudonymizer(SECRET)
    opted_out = {pseudonym("did:plc:user0")}
    table, stats = anonymize_actions(
        pa.Table.from_pylist(ROWS),
        pseudonym.many,
        text_anonymizer(False).anonymize_many,
        dids_pseudonymized_in(opted_out, pseudonym.many),
    )
    # The row-by-row rule: a DID the row involves whose pseudonym is opted out.
    kept = [
        row
        for row in ROWS
        if not any(pseudonym(i) in opted_out for i in involved_ids(row) if i.startswith("did:"))
    ]
    assert [r["event_key"] for r in kept] == ["k1", "k4", "k5"]  # user0's posts and the like of one go
    assert table.to_pylist() == _expected(kept, pseudonym)
    assert stats["opted_out_rows"] == 4


def test_an_empty_day_gives_an_empty_table() -> None:
    empty = pa.Table.from_pylist(ROWS).slice(0, 0)
    table, stats = anonymize_actions(empty, Pseudonymizer(SECRET).many, text_anonymizer(False).anonymize_many)
    assert table.num_rows == 0 and table.schema == ANONYMIZED_SCHEMA
    assert stats == {"rows": 0, "opted_out_rows": 0, "pii_by_type": {}}


def test_dictionary_columns_and_untyped_langs_are_read_and_drifted_types_refused() -> None:
    import pytest

    pseudonym = Pseudonymizer(SECRET)
    anonymizer = text_anonymizer(False)
    table = pa.Table.from_pylist(ROWS)
    encoded = table.set_column(table.schema.get_field_index("actor_did"), "actor_did",
                               table.column("actor_did").dictionary_encode())  # fmt: skip
    assert anonymize_actions(encoded, pseudonym.many, anonymizer.anonymize_many)[0].equals(
        anonymize_actions(table, pseudonym.many, anonymizer.anonymize_many)[0]
    )
    untyped = table.set_column(table.schema.get_field_index("langs"), "langs", pa.nulls(len(ROWS)))
    out, _ = anonymize_actions(untyped, pseudonym.many, anonymizer.anonymize_many)
    assert out.column("lang").null_count == len(ROWS) and not any(out.column("is_english").to_pylist())
    drifted = table.set_column(
        table.schema.get_field_index("resolved"), "resolved", pa.array([1] * len(ROWS))
    )
    with pytest.raises(TypeError, match="actions column resolved is int64, expected bool"):
        anonymize_actions(drifted, pseudonym.many, anonymizer.anonymize_many)
