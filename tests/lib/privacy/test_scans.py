"""Leak and secret scans read every string of a table, however deeply nested, and count rows."""

from __future__ import annotations

import pyarrow as pa

from blueprint_assets.lib.privacy.scans import folder_as_table, leak_scan, secret_scan

DID = "did:plc:abcdefghijklmnopqrstuvwx"
URL = "https://example.org/profile/alice"
KNOWN = {DID, URL}
SECRET = b"0123456789abcdef-secret"

MESSAGE = pa.struct([("user_id", pa.string()), ("text", pa.string())])


def _threads() -> pa.Table:
    threads = [
        [{"user_id": "u1", "text": f"ask {DID} now"}, {"user_id": "u2", "text": f"and {DID} again"}],  # 1 row
        [{"user_id": "u3", "text": f"see {URL}\nfor more"}],  # a newline right after the URL
        [{"user_id": "u4", "text": "nothing here."}],
        None,
        [{"user_id": SECRET.decode(), "text": None}],
    ]
    table = pa.table(
        {
            "id": ["t1", "t2", "t3", "t4", "t5"],
            "thread": pa.array(threads, pa.list_(MESSAGE)),
            "tags": pa.array([[("k", DID)], None, [], [("k", "v")], None], pa.map_(pa.string(), pa.string())),
            "label": pa.array(["a", "b", f"x {URL}", "a", "b"]).dictionary_encode(),
        }
    )
    # Chunked and sliced, as a table read from several files is: rows are still counted by the table's rows.
    return pa.concat_tables([table.slice(0, 2), table.slice(2)])


def test_leaks_are_found_in_every_nested_string_and_counted_per_row() -> None:
    found = sorted(str(f) for f in leak_scan("t", _threads(), KNOWN))
    assert found == [
        "t.label: 1 row(s) contain a raw URL",
        "t.tags: 1 row(s) contain a raw DID",
        "t.thread: 1 row(s) contain a raw DID",  # two messages of one thread: one row
        "t.thread: 1 row(s) contain a raw URL",
    ]
    # Rows 3 and 4 hold only the label's URL.
    assert [str(f) for f in leak_scan("t", _threads().slice(2, 2), KNOWN)] == [
        "t.label: 1 row(s) contain a raw URL"
    ]


def test_the_secret_is_found_inside_a_nested_struct() -> None:
    assert [str(f) for f in secret_scan("t", _threads(), SECRET)] == [
        "t.thread: 1 row(s) contain a raw secret"
    ]
    assert secret_scan("t", _threads().slice(0, 4), SECRET) == []


def test_a_parquet_file_in_a_folder_is_scanned_by_its_strings(tmp_path) -> None:
    import pyarrow.parquet as pq

    pq.write_table(_threads(), tmp_path / "threads.parquet")
    (tmp_path / "card.md").write_text("no identifiers here.")
    folder = folder_as_table(tmp_path)
    assert folder.column("file").to_pylist() == ["card.md", "threads.parquet"]
    assert sorted(str(f) for f in leak_scan("release", folder, KNOWN)) == [
        "release.content: 1 row(s) contain a raw DID",
        "release.content: 1 row(s) contain a raw URL",
    ]


def test_forked_harvest_finds_what_one_process_finds() -> None:
    from blueprint_assets.lib.privacy.scans import lake_raw_identifiers

    def letters(i: int) -> str:  # a did:plc is base32: letters only here
        return "".join("abcdefghij"[int(d)] for d in f"{i:024d}")

    text = "mail u{i}@example.com at https://x.org/{i}"
    lines = [f'{{"did":"did:plc:{letters(i)}","text":"{text.format(i=i)}"}}' for i in range(600)]
    raw = pa.table({"kind": ["commit"] * 600, "raw": lines})
    alone = lake_raw_identifiers(raw)
    assert len(alone) == 3 * 600 and "did:plc:" + "a" * 23 + "b" in alone
    assert lake_raw_identifiers(raw, workers=2) == alone


def test_bytes_and_lists_behind_nulls_are_read_right() -> None:
    # A null list slot backed by values (as a filter can leave it): those values are not the row's.
    backed = pa.ListArray.from_arrays(
        pa.array([0, 1, 2, 3]), pa.array([f"x {DID}", f"y {URL}", "z"]), mask=pa.array([False, True, False])
    )
    table = pa.table({"lists": backed, "blob": pa.array([f"{DID}".encode(), b"\xff\xfe", None])})
    assert sorted(str(f) for f in leak_scan("t", table, KNOWN)) == [
        "t.blob: 1 row(s) contain a raw DID",
        "t.lists: 1 row(s) contain a raw DID",  # the URL sits behind the null slot
    ]


def test_a_json_lines_file_is_scanned_by_its_values_and_its_keys(tmp_path) -> None:
    import json

    rows = [{"id": "t1", "note": "plain"}, {"id": "t2", "extra": {DID: "a key, not a value"}}]
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "odd.jsonl").write_text(f"not json {URL}\n")  # Arrow cannot read it: read line by line
    folder = folder_as_table(tmp_path)
    assert sorted(str(f) for f in leak_scan("release", folder, KNOWN)) == [
        "release.content: 1 row(s) contain a raw DID",
        "release.content: 1 row(s) contain a raw URL",
    ]


def test_find_urls_matches_what_the_url_pattern_finds() -> None:
    """The `://`-anchored finder gives exactly the pattern's matches: schemes in any case (and the
    characters Python folds to them), adjacent and nested `://`, terminators, Unicode spaces."""
    import random

    from blueprint_assets.lib.privacy.scans import URL_PATTERN, find_urls

    alphabet = ["h", "t", "p", "s", "a", ":", "/", "x", " ", '"', "\u017f", "S", "H", "T", "A", "\u00a0", "<"]
    rng = random.Random(7)
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30))) for _ in range(50_000)]
    texts += [
        "see https://a.example/x and at://did:plc:abc/app.bsky.feed.post/1, http://b.example",
        "chat://x hthttps://y at:// https://a://b ATTP://c HTTPſ://d",
    ]
    for text in texts:
        assert list(find_urls(text)) == [m.group(0) for m in URL_PATTERN.finditer(text)], repr(text)


def test_find_dids_matches_what_the_did_pattern_finds() -> None:
    """The `did:`-anchored finder gives exactly the pattern's matches, and `lowercase_dids` the harvest's
    lowercased DIDs: any case, the characters the pattern folds to ASCII letters (dotted and dotless i,
    long s, Kelvin sign), adjacent and overlapping candidates, every DID method."""
    import random

    from blueprint_assets.lib.privacy.scans import DID_PATTERN, _clean, find_dids, lowercase_dids

    pieces = ["did:", "DiD:", "d\u0131d:", "d\u0130d:", "plc:", "web:", "key:z", "\u212a", "a" * 23, "b", "2",
              "1" * 40, ".", "-", ":", " ", "x.example", "\u00e9", "\u017f", "PLC:", "A" * 23,
              "wEB:"]  # fmt: skip
    rng = random.Random(11)
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 12))) for _ in range(50_000)]
    texts += [
        f"a did:plc:{'b' * 24} and DID:WEB:x.example did:did:plc:{'c' * 24}",
        f"did:plc:{'a' * 23}\u017f did:plc:{'a' * 23}\u212a did:web:\u212a.example",
    ]
    for text in texts:
        assert list(find_dids(text)) == [m.group(0) for m in DID_PATTERN.finditer(text)], repr(text)
        assert lowercase_dids(text) == [_clean(m.group(0)) for m in DID_PATTERN.finditer(text)], repr(text)


def test_find_emails_and_mentions_match_what_their_patterns_find() -> None:
    """The `@`-anchored finders give exactly the patterns' matches: adjacent and chained `@`s, local parts
    that start inside an earlier match, the characters Python folds to ASCII letters, local parts longer
    than the finder's look-back, Unicode word characters."""
    import random

    from blueprint_assets.lib.privacy.scans import EMAIL_PATTERN, MENTION_PATTERN, find_emails, find_mentions

    pieces = ["@", "@", ".", "+", "-", "_", "a", "Z", "b.example", "x-y", "9", " ", '"', "\u212a", "\u017f",
              "\u00e9", "\u0130", "@@", ".co", "\n"]  # fmt: skip
    rng = random.Random(5)
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 16))) for _ in range(60_000)]
    long_local = "a" * 255
    texts += [
        "mail a.b+c@x.example, @alice.bsky.social and a@b.c@d.example",
        f"{long_local}@x.example {long_local}a@y.example z{long_local}.b@w.example",
        f"{'b' * 300}@x.example then c@d.example",
    ]
    for text in texts:
        assert list(find_emails(text)) == [m.group(0) for m in EMAIL_PATTERN.finditer(text)], repr(text)
        assert list(find_mentions(text)) == [m.group(1) for m in MENTION_PATTERN.finditer(text)], repr(text)


def test_token_candidates_keep_every_string_a_token_is_found_in() -> None:
    """Arrow's gate is a superset of `tokens_with_kinds`: every string it finds a token in is kept, the
    case-folded look-alikes of a domain's letters too (Kelvin sign, long s, dotted and dotless i)."""
    import random

    import numpy as np

    from blueprint_assets.lib.privacy.scans import _DOMAIN_GATE, token_candidates, tokens_with_kinds

    pieces = ["a", "Z", "9", ".", ":", "@", "//", "did:", "DiD:", "d\u0131d:", "plc:", " ", "\u212a", "\u017f", "\u0130", "\u0131",
              "\u00e9", "\n", "-", "x.org", "\uff21"]  # fmt: skip
    rng = random.Random(5)
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 8))) for _ in range(40_000)]
    plain = [f"post {i}. Nothing to see: really" for i in range(1_000)]  # a dot and a colon, no token
    texts += ["\u212a.\u017f", "\u0130.\u0131", "9.\u212a", "mail me@x.io", *plain]
    halves = [pa.array(texts[:20_000]), pa.array(texts[20_000:] + [None], pa.large_string())]
    candidates = token_candidates([(values, np.arange(len(values))) for values in halves])
    found = {text for text in texts if tokens_with_kinds(text)}
    assert found <= set(candidates)
    assert len(candidates) == len(set(candidates))  # each distinct string once, whichever chunk held it
    folded = {"\u212a.\u017f", "\u0130.\u0131", "9.\u212a"}  # what Python's case-folding gate lets through
    assert all(_DOMAIN_GATE.search(text) for text in folded) and folded <= set(candidates)
    assert not set(plain) & set(candidates)  # what holds no token shape stays out of Python


def test_an_upper_cased_did_in_an_output_is_a_leak() -> None:
    table = pa.table({"text": ["quoted " + DID.upper() + " here.", "Did:Plc:" + DID[8:] + "!", "fine."]})
    (finding,) = leak_scan("posts", table, KNOWN)
    assert (finding.kind, finding.rows) == ("DID", 2)
