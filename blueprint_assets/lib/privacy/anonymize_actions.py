"""From the private action table to the public-safe `anonymized_posts` table (pure, no Dagster).

Every action row is kept, with identifiers replaced by keyed pseudonyms and text-bearing rows'
text anonymized (facet mentions and links included). Opted-out accounts are dropped, both as actors
and as subjects (likes of their posts, follows of them).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable

import pyarrow as pa

from blueprint_assets.lib.ingest.actions import facet_spans
from blueprint_assets.lib.privacy.scans import DID_PATTERN

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
URI_COLUMNS = ("record_uri", "reply_parent_uri", "reply_root_uri", "quote_uri", "subject_uri")


def uri_author(uri: str | None) -> str | None:
    """The DID in `at://<did>/...`."""
    if not uri or not uri.startswith("at://"):
        return None
    return uri[5:].split("/", 1)[0]


# Columns whose value is an account or record identifier (raw in private tables, pseudonymized in public ones).
IDENTIFIER_COLUMNS = ("did", "actor_did", "subject_did", "event_key", *URI_COLUMNS, "event_id", "actor",
                      "record_id", "reply_parent_id", "reply_root_id", "quote_id", "subject_id", "subject_user",
                      "user")  # fmt: skip
# Free-text columns: a DID written anywhere in them (a mention facet, a pasted DID) involves that account.
TEXT_COLUMNS = ("text", "facets_json", "raw")


def involved_ids(row: dict) -> set[str]:
    """Every account/record identifier a row involves: identifier columns, the author DID of every record
    URI, and every DID written in a text column (lowercased). THE rule for opt-out and forget."""
    ids = {value for c in IDENTIFIER_COLUMNS if isinstance(value := row.get(c), str) and value}
    ids.update(author for c in URI_COLUMNS if (author := uri_author(row.get(c))))
    for column in TEXT_COLUMNS:
        text = row.get(column)
        if text and "did:" in text.lower():
            ids.update(m.group(0).lower() for m in DID_PATTERN.finditer(text))
    return ids


def involves(row: dict, ids: set[str]) -> bool:
    """Whether a row was made by, is about, or mentions one of `ids` (see `involved_ids`)."""
    return not involved_ids(row).isdisjoint(ids)


def involves_pseudonyms(row: dict, pseudonyms: set[str], pseudonym: Callable[[str], str]) -> bool:
    """`involves` for accounts known only by pseudonym (the opt-out log): a DID the row involves whose
    pseudonym is one of `pseudonyms`."""
    return bool(pseudonyms) and any(
        pseudonym(i) in pseudonyms for i in involved_ids(row) if i.startswith("did:")
    )


def primary_lang(langs: list[str] | None) -> str | None:
    return langs[0].lower() if langs else None


def is_english(langs: list[str] | None) -> bool:
    return any(lang.lower().split("-")[0] == "en" for lang in langs or [])


def anonymize_actions(
    actions: pa.Table,
    pseudonym: Callable[[str | None], str | None],
    anonymize_texts: Callable[[list[str], list[list]], list],
    is_opted_out: Callable[[dict], bool],
) -> tuple[pa.Table, dict]:
    """Return the anonymized table and counts (rows, opted-out rows, PII by type)."""
    rows = [row for row in actions.to_pylist()]
    kept = [row for row in rows if not is_opted_out(row)]
    texts = [row for row in kept if row["text"]]
    results = anonymize_texts([r["text"] for r in texts], [facet_spans(r["facets_json"]) for r in texts])
    anonymized = {id(row): result for row, result in zip(texts, results, strict=True)}
    pii = Counter()
    out = {name: [] for name in ANONYMIZED_SCHEMA.names}
    for row in kept:
        result = anonymized.get(id(row))
        counts = dict(sorted(result.counts.items())) if result else {}
        pii.update(counts)
        for public, private in PSEUDONYMIZED.items():
            out[public].append(pseudonym(row[private]))
        out["day"].append(row["day"])
        out["time_us"].append(row["time_us"])
        out["action"].append(row["action"])
        out["text"].append(result.text if result else None)
        out["lang"].append(primary_lang(row["langs"]))
        out["is_english"].append(is_english(row["langs"]))
        out["pii_counts"].append(json.dumps(counts))
        out["resolved"].append(row["resolved"])
    table = pa.table(out, schema=ANONYMIZED_SCHEMA)
    return table, {
        "rows": len(kept),
        "opted_out_rows": len(rows) - len(kept),
        "pii_by_type": dict(sorted(pii.items())),
    }
