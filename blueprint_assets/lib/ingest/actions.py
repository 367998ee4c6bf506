"""Mapping Jetstream commits to the 13-type action table (DuckDB SQL over raw_events Parquet).

Rules (also in the README):
- `app.bsky.feed.post` create: a record with `reply` is a `reply` (even when it also quotes), else one
  that embeds a record (`app.bsky.embed.record` / `recordWithMedia`) is a `quote`, else a `post`.
  update -> `post_update`, delete -> `post_delete`.
- like / repost / follow / block: create -> the action, delete -> its `un` form.
- Deletes carry only a record path; their subject comes from the create they undo (same record URI),
  looked up in this day and every earlier stored partition. Unresolvable ones stay, flagged.
"""

from __future__ import annotations

import json

import duckdb

from blueprint_assets.lib.actions_space import ACTION_COLLECTIONS, POST_COLLECTION
from blueprint_assets.lib.storage.duck import copy_to_parquet
from blueprint_assets.lib.storage.lake import Lake

UNDO_ACTIONS = ("unlike", "unrepost", "unfollow", "unblock", "post_delete")
POST = POST_COLLECTION

MAPPED_TABLE = "actions_mapped"
CREATES_TABLE = "actions_creates"
TEXT_ACTIONS = ("post", "reply", "quote", "post_update")
CREATE_ACTIONS = ("post", "reply", "quote", "like", "repost", "follow", "block")

# Every record field the mapping reads, extracted with one parse of the line (`r[1]`..`r[11]`).
# `r[i] ->> '$'` equals `raw ->> path` (strings unescaped, other values as JSON text, JSON null as NULL),
# and `r[i]` is NULL exactly when `raw -> path` is (a JSON null is the non-NULL value 'null').
RECORD_PATHS = """[
  '$.commit.record.text', '$.commit.record.langs', '$.commit.record.reply',
  '$.commit.record.reply.parent.uri', '$.commit.record.reply.root.uri', '$.commit.record.embed."$type"',
  '$.commit.record.embed.record.uri', '$.commit.record.embed.record.record.uri',
  '$.commit.record.subject.uri', '$.commit.record.subject', '$.commit.record.facets'
]"""

_QUOTE_URI = """CASE r[6] ->> '$'
    WHEN 'app.bsky.embed.record' THEN r[7] ->> '$'
    WHEN 'app.bsky.embed.recordWithMedia' THEN r[8] ->> '$' END"""


def _action_case() -> str:
    create_delete = "\n".join(
        f"    WHEN collection = '{c}' AND operation = 'create' THEN '{a}'\n"
        f"    WHEN collection = '{c}' AND operation = 'delete' THEN '{u}'"
        for c, (a, u) in ACTION_COLLECTIONS.items()
    )
    return f"""CASE
    WHEN collection = '{POST}' AND operation = 'create' THEN
      CASE WHEN r[3] IS NOT NULL THEN 'reply'
           WHEN (r[6] ->> '$') IN ('app.bsky.embed.record', 'app.bsky.embed.recordWithMedia') THEN 'quote'
           ELSE 'post' END
    WHEN collection = '{POST}' AND operation = 'update' THEN 'post_update'
    WHEN collection = '{POST}' AND operation = 'delete' THEN 'post_delete'
{create_delete}
  END"""


def _author_of(uri_sql: str) -> str:
    return f"regexp_extract({uri_sql}, '^at://([^/]+)/', 1)"


# Only commits to the five collections that map to actions are parsed (others give no action).
MAPPED_SQL = f"""
SELECT event_key, day, time_us, action, did AS actor_did,
       concat('at://', did, '/', collection, '/', rkey) AS record_uri,
       -- An escaped NUL (JSON "\\u0000") would reach anonymized_posts as a real NUL: strip it.
       CASE WHEN action IN {TEXT_ACTIONS} THEN replace(r[1] ->> '$', chr(0), '') END AS text,
       -- `langs[*]` of a missing field is an empty list, as json_extract_string(raw, path[*]) gives.
       CASE WHEN action IN {TEXT_ACTIONS}
            THEN coalesce(json_extract_string(r[2], '$[*]'), []::VARCHAR[]) END AS langs,
       r[4] ->> '$' AS reply_parent_uri,
       r[5] ->> '$' AS reply_root_uri,
       quote_uri,
       CASE WHEN action IN ('like', 'repost') THEN r[9] ->> '$'
            WHEN action = 'reply' THEN r[4] ->> '$'
            WHEN action = 'quote' THEN quote_uri
            WHEN action IN ('post_update', 'post_delete') THEN concat('at://', did, '/', collection, '/', rkey)
       END AS subject_uri,
       CASE WHEN action IN ('follow', 'block') THEN r[10] ->> '$' END AS subject_did_direct,
       CASE WHEN action IN {TEXT_ACTIONS} THEN CAST(r[11] AS VARCHAR) END AS facets_json
FROM (
  SELECT *, {_action_case()} AS action, {_QUOTE_URI} AS quote_uri
  FROM (
    SELECT event_key, day, time_us, did, collection, operation, rkey, json_extract(raw, {RECORD_PATHS}) AS r
    FROM read_parquet(?, hive_partitioning = false)
    WHERE kind = 'commit' AND collection IN ('{POST}', {", ".join(f"'{c}'" for c in ACTION_COLLECTIONS)})
  )
)
WHERE action IS NOT NULL
"""

ACTIONS_OUTPUT = f"""
SELECT m.event_key, m.day, m.time_us, m.action, m.actor_did, m.record_uri, m.text, m.langs,
       m.reply_parent_uri, m.reply_root_uri, m.quote_uri,
       CASE WHEN m.action IN ('unlike', 'unrepost') THEN c.subject_uri ELSE m.subject_uri END AS subject_uri,
       CASE WHEN m.action IN ('unfollow', 'unblock', 'unlike', 'unrepost') THEN c.subject_did
            WHEN m.action IN ('follow', 'block') THEN m.subject_did_direct
            WHEN m.action IN ('post_update', 'post_delete') THEN m.actor_did
            ELSE nullif({_author_of("m.subject_uri")}, '') END AS subject_did,
       m.facets_json,
       CASE WHEN m.action IN {UNDO_ACTIONS} THEN c.record_uri IS NOT NULL ELSE true END AS resolved
FROM {MAPPED_TABLE} m
LEFT JOIN {CREATES_TABLE} c ON m.action IN {UNDO_ACTIONS} AND c.record_uri = m.record_uri
ORDER BY m.time_us, m.event_key
"""


def build_actions_day(con: duckdb.DuckDBPyConnection, lake: Lake, day: str) -> dict:
    """Write `actions` for one day from its `raw_events`; return counts for the asset's metadata."""
    con.execute(
        f"CREATE OR REPLACE TABLE {MAPPED_TABLE} AS " + MAPPED_SQL, [lake.day_file("raw_events", day)]
    )
    # One listing, so a partition appearing meanwhile (a parallel run) cannot misalign days and files.
    earlier = [lake.day_file("actions", d) for d in lake.existing_days("actions") if d < day]
    _build_create_index(con, earlier)
    copy_to_parquet(con, ACTIONS_OUTPUT, [], lake.day_file("actions", day))
    con.execute(f"DROP TABLE {CREATES_TABLE}")
    con.execute(f"DROP TABLE {MAPPED_TABLE}")
    return actions_day_summary(con, lake, day)


def _build_create_index(con: duckdb.DuckDBPyConnection, earlier_files: list[str]) -> None:
    """Creates that today's deletes may undo, from today and every earlier stored day.

    Only creates whose record URI an undo of today names are kept: nothing else is ever joined.
    """
    undone = f"SELECT record_uri FROM {MAPPED_TABLE} WHERE action IN {UNDO_ACTIONS}"
    con.execute(
        f"""CREATE OR REPLACE TABLE {CREATES_TABLE} AS
           SELECT record_uri, subject_uri, coalesce(subject_did_direct, nullif(regexp_extract(subject_uri,
                  '^at://([^/]+)/', 1), '')) AS subject_did, time_us
           FROM {MAPPED_TABLE} WHERE action IN {CREATE_ACTIONS} AND record_uri IN ({undone})
           -- A row that joins nothing (no record URI is empty), present when the day has creates, as when
           -- all of them were kept: DuckDB writes `resolved` as a required Parquet column when it can
           -- tell that no row joins, so this keeps the column's schema what it always was.
           UNION ALL
           SELECT '', NULL, NULL, NULL
           WHERE EXISTS (SELECT 1 FROM {MAPPED_TABLE} WHERE action IN {CREATE_ACTIONS})"""
    )
    if earlier_files:
        con.execute(
            f"""INSERT INTO {CREATES_TABLE}
               SELECT a.record_uri, a.subject_uri, a.subject_did, a.time_us
               FROM read_parquet(?, hive_partitioning = false) a
               WHERE a.action IN {CREATE_ACTIONS} AND a.record_uri IN ({undone})""",
            [earlier_files],
        )
    # One create per record URI (a re-created record keeps its latest subject).
    con.execute(
        f"""CREATE OR REPLACE TABLE {CREATES_TABLE} AS SELECT * FROM {CREATES_TABLE}
           QUALIFY row_number() OVER (PARTITION BY record_uri ORDER BY time_us DESC) = 1"""
    )


def actions_day_summary(con: duckdb.DuckDBPyConnection, lake: Lake, day: str) -> dict:
    """Counts per action type, unresolved deletes, and events that are not actions (by collection)."""
    actions_file = lake.day_file("actions", day)
    by_type = dict(
        con.execute(
            f"SELECT action, count(*) FROM read_parquet('{actions_file}', hive_partitioning = false) GROUP BY 1 ORDER BY 1"
        ).fetchall()
    )
    unresolved = con.execute(
        f"SELECT count(*) FROM read_parquet('{actions_file}', hive_partitioning = false) WHERE NOT resolved"
    ).fetchone()[0]
    raw_file = lake.day_file("raw_events", day)
    ignored = dict(
        con.execute(
            f"""SELECT coalesce(collection, kind) AS what, count(*) FROM read_parquet('{raw_file}', hive_partitioning = false)
                WHERE event_key NOT IN (SELECT event_key FROM read_parquet('{actions_file}', hive_partitioning = false))
                GROUP BY 1 ORDER BY 1"""
        ).fetchall()
    )
    return {"by_type": by_type, "unresolved_deletes": unresolved, "ignored_by_collection": ignored}


def facet_spans(facets_json: str | None) -> list[tuple[int, int, str]]:
    """UTF-8 byte spans that a record's facets mark as a mention or a link."""
    if not facets_json:
        return []
    try:
        facets = json.loads(facets_json)
    except ValueError:
        return []
    spans = []
    for facet in facets if isinstance(facets, list) else []:
        index = facet.get("index") or {}
        start, end = index.get("byteStart"), index.get("byteEnd")
        if not isinstance(start, int) or not isinstance(end, int):
            continue
        for feature in facet.get("features") or []:
            kind = str(feature.get("$type", "")).rsplit("#", 1)[-1]
            if kind in ("mention", "link"):
                spans.append((start, end, kind))
    return sorted(set(spans))
