"""Tests of the deterministic Jetstream sample generator (blueprint_assets.lib.sample)."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from itertools import islice
from pathlib import Path
from typing import Any

import pytest
from support.pipeline import samples_dir

from blueprint_assets.lib.actions_space import ACTION_ORDER
from blueprint_assets.lib.privacy.recognizers import DEFAULT_ENTITIES
from blueprint_assets.lib.sample import (
    HOUR_US,
    MALFORMED_REASONS,
    POLITICAL_KEYWORDS,
    S32,
    SampleSummary,
    fake_cid,
    generate_sample,
    is_political_text,
    iter_events,
    make_users,
    tid,
    tid_time_us,
)

DID_RE = re.compile(r"^did:plc:[a-z2-7]{24}$")
DID_IN_TEXT_RE = re.compile(r"did:plc:[a-z2-7]{24}")
FOLDER_RE = re.compile(r"^(\d{4})-(\d{2})/(\d{2})/(\d{2})/events\.jsonl(\.gz)?$")
TID_RE = re.compile(f"^[{S32}]{{13}}$")
CREATED_AT_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
UNDO = {
    "app.bsky.feed.like": "unlike",
    "app.bsky.feed.repost": "unrepost",
    "app.bsky.graph.follow": "unfollow",
    "app.bsky.graph.block": "unblock",
}


@dataclass
class Line:
    folder_start_us: int  # start of the hour the file's folder stands for
    path: str
    text: str
    event: dict[str, Any] | None
    problem: str | None  # why the line is not a well-formed event, None if it is


@dataclass
class Parsed:
    root: Path
    summary: SampleSummary
    lines: list[Line]

    @property
    def events(self) -> list[dict[str, Any]]:
        return [ln.event for ln in self.lines if ln.event is not None]

    def distinct_events(self) -> list[dict[str, Any]]:
        seen: set[str] = set()
        out = []
        for ln in self.lines:
            if ln.event is not None and ln.text not in seen:
                seen.add(ln.text)
                out.append(ln.event)
        return out


def _problem(text: str) -> tuple[dict[str, Any] | None, str | None]:
    """Classify a line the way a careful reader would (independently of the generator's labels)."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError:
        return None, "unparseable"
    if not isinstance(obj, dict):
        return None, "not_object"
    if "did" not in obj:
        return None, "missing_did"
    if "time_us" not in obj:
        return None, "missing_time_us"
    if not isinstance(obj["time_us"], int):
        return None, "bad_time_us"
    return obj, None


def _read_archive(root: Path) -> list[Line]:
    out: list[Line] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        m = FOLDER_RE.match(rel)
        assert m, f"unexpected file in archive: {rel}"
        year, month, day, hour = (int(g) for g in m.groups()[:4])
        start = int(datetime(year, month, day, hour, tzinfo=UTC).timestamp()) * 1_000_000
        data = path.read_bytes()
        if m.group(5):
            data = gzip.decompress(data)
        assert data.endswith(b"\n")
        for text in data.decode().split("\n")[:-1]:
            event, problem = _problem(text)
            out.append(Line(start, rel, text, event, problem))
    return out


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Parsed:
    root = tmp_path_factory.mktemp("sample") / "archive"
    summary = generate_sample(root)  # the default size: 3 days, 2000 users, seed 7
    return Parsed(root, summary, _read_archive(root))


def _posts(p: Parsed) -> list[dict[str, Any]]:
    return [
        e
        for e in p.distinct_events()
        if e["kind"] == "commit"
        and e["commit"]["collection"] == "app.bsky.feed.post"
        and e["commit"]["operation"] == "create"
    ]


def _action_of(e: dict[str, Any]) -> str | None:
    """The BluePrint action of an event, derived from the event alone (deletes by collection)."""
    if e["kind"] != "commit":
        return None
    c = e["commit"]
    coll, op = c["collection"], c["operation"]
    if coll == "app.bsky.feed.post":
        if op == "delete":
            return "post_delete"
        if op == "update":
            return "post_update"
        rec = c["record"]
        if "reply" in rec:
            return "reply"
        if rec.get("embed", {}).get("$type") in ("app.bsky.embed.record", "app.bsky.embed.recordWithMedia"):
            return "quote"
        return "post"
    if coll in UNDO:
        return UNDO[coll] if op == "delete" else UNDO[coll][2:]
    return None


# ----- determinism and layout -------------------------------------------------------------------------------
def _tree_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.slow  # generates the demo-size sample (~15 s of CPU)
def test_default_size_is_byte_identical_across_runs(sample: Parsed, tmp_path: Path) -> None:
    again = generate_sample(tmp_path / "again")
    assert _tree_bytes(sample.root) == _tree_bytes(tmp_path / "again")
    assert again.to_dict() | {"out_dir": ""} == sample.summary.to_dict() | {"out_dir": ""}


def test_gzip_is_deterministic_and_holds_the_same_lines(tmp_path: Path) -> None:
    kwargs: dict[str, Any] = {"days": 2, "users": 150, "seed": 3, "start": date(2024, 12, 31)}
    a = generate_sample(tmp_path / "a", gzip=True, **kwargs)
    generate_sample(tmp_path / "b", gzip=True, **kwargs)
    plain = generate_sample(tmp_path / "plain", **kwargs)
    assert _tree_bytes(tmp_path / "a") == _tree_bytes(tmp_path / "b")
    assert all(f.endswith(".jsonl.gz") for f in a.files)
    unzipped = {k.removesuffix(".gz"): gzip.decompress(v) for k, v in _tree_bytes(tmp_path / "a").items()}
    assert unzipped == _tree_bytes(tmp_path / "plain")
    # The window crosses a month and year boundary.
    assert a.files[0] == "2024-12/31/00/events.jsonl.gz" and a.files[-1] == "2025-01/01/23/events.jsonl.gz"
    assert plain.events == a.events


def test_other_seed_gives_other_data(tmp_path: Path) -> None:
    a = list(islice(iter_events(days=1, users=50, seed=1), 200))
    b = list(islice(iter_events(days=1, users=50, seed=2), 200))
    assert [x.line for x in a] != [x.line for x in b]
    assert {u.did for u in make_users(50, 1)}.isdisjoint({u.did for u in make_users(50, 2)})


def test_hourly_layout_and_sorted_files(sample: Parsed) -> None:
    files = sorted({ln.path for ln in sample.lines})
    assert files == sorted(sample.summary.files)
    assert len(files) == 72
    assert files[0] == "2025-03/01/00/events.jsonl" and files[-1] == "2025-03/03/23/events.jsonl"
    by_file: dict[str, list[int]] = defaultdict(list)
    for ln in sample.lines:
        if ln.event is not None:
            by_file[ln.path].append(ln.event["time_us"])
    for path, times in by_file.items():
        assert times == sorted(times), path
        assert len(set(times)) > 0.99 * len(times)


def test_a_few_events_sit_in_the_neighbouring_folder(sample: Parsed) -> None:
    ok = [ln for ln in sample.lines if ln.event is not None]
    outside = [
        ln for ln in ok if not ln.folder_start_us <= ln.event["time_us"] < ln.folder_start_us + HOUR_US
    ]
    assert 3 <= len({ln.text for ln in outside}) <= 200
    for ln in outside:  # only ever the neighbouring hour
        assert ln.folder_start_us - HOUR_US <= ln.event["time_us"] < ln.folder_start_us + 2 * HOUR_US
    day_of = lambda us: us // (24 * HOUR_US)  # noqa: E731
    crossing = [ln for ln in outside if day_of(ln.event["time_us"]) != day_of(ln.folder_start_us)]
    assert crossing, "no event filed under another day's folder"
    assert sample.summary.misfiled == len({ln.text for ln in outside})


def test_streaming_matches_files_and_starts_lazily(sample: Parsed) -> None:
    first = list(islice(iter_events(), 5))
    assert {x.folder for x in first} == {"2025-03/01/00"}
    assert [x.line for x in first] == [ln.text for ln in sample.lines[:5]]


# ----- event shapes -----------------------------------------------------------------------------------------
def test_events_are_shaped_like_jetstream(sample: Parsed) -> None:
    kinds = Counter()
    for e in sample.distinct_events():
        kinds[e["kind"]] += 1
        assert list(e)[:3] == ["did", "time_us", "kind"] and list(e)[3] == e["kind"]
        assert DID_RE.match(e["did"])
        if e["kind"] == "commit":
            c = e["commit"]
            assert TID_RE.match(c["rev"])
            if c["operation"] == "delete":
                assert list(c) == ["rev", "operation", "collection", "rkey"]
            else:
                assert list(c) == ["rev", "operation", "collection", "rkey", "record", "cid"]
                assert c["record"]["$type"] == c["collection"]
                assert re.fullmatch(r"bafyrei[a-z2-7]{52}", c["cid"])
                created = c["record"].get("createdAt")
                if created is not None and c["collection"].startswith("app.bsky."):
                    assert CREATED_AT_RE.match(created)
                    if c["operation"] == "create":
                        assert _parse_iso_us(created) <= e["time_us"]
            if c["collection"] != "app.bsky.actor.profile":
                assert TID_RE.match(c["rkey"])
        else:
            body = e[e["kind"]]
            assert (
                body["did"] == e["did"] and isinstance(body["seq"], int) and CREATED_AT_RE.match(body["time"])
            )
            if e["kind"] == "identity":
                assert re.fullmatch(
                    r"user\d+\.bsky\.social|[a-z]+\d+\.example\.(org|com|net)", body["handle"]
                )
            else:
                assert isinstance(body["active"], bool) and (body["active"] or body["status"])
    assert kinds["identity"] > 10 and kinds["account"] > 10


def _parse_iso_us(value: str) -> int:
    dt = datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return int(dt.timestamp()) * 1_000_000 + dt.microsecond


def test_tid_and_cid_helpers_round_trip() -> None:
    assert tid_time_us("3ljgzzfxqw22w") == 1740973562321792  # a real rkey from 2025-03-03
    assert tid_time_us(tid(1740973562321792, 513)) == 1740973562321792
    assert tid(1, 0) < tid(2, 0) < tid(2, 1)  # sortable
    assert fake_cid("a") != fake_cid("b") and fake_cid("a") == fake_cid("a")
    assert fake_cid("a", raw=True).startswith("bafkrei")


def test_volume_and_every_action_type(sample: Parsed) -> None:
    s = sample.summary
    assert 30_000 <= s.events <= 80_000
    counted = Counter(a for e in sample.distinct_events() if (a := _action_of(e)))
    assert set(counted) == set(ACTION_ORDER)
    assert dict(counted) == {a: n for a, n in s.by_action.items()}  # the files say what the summary says
    total = sum(counted.values())
    assert 0.45 <= counted["like"] / total <= 0.55
    order = ["like", "repost", "post", "reply", "follow"]
    assert [counted[a] for a in order] == sorted((counted[a] for a in order), reverse=True)
    for rare in ("unlike", "unrepost", "unfollow", "block", "unblock", "post_update", "post_delete"):
        assert 0 < counted[rare] < counted["follow"]
    assert s.by_collection["app.bsky.feed.like"]["create"] == counted["like"]


def test_non_action_and_foreign_collections_present(sample: Parsed) -> None:
    colls = set(sample.summary.by_collection)
    for coll in (
        "app.bsky.actor.profile",
        "app.bsky.graph.list",
        "app.bsky.graph.listitem",
        "app.bsky.feed.threadgate",
        "app.bsky.feed.postgate",
        "app.bsky.graph.starterpack",
        "xyz.statusphere.status",
        "fm.teal.alpha.feed.play",
        "com.whtwnd.blog.entry",
    ):
        assert coll in colls, coll
    assert set(sample.summary.by_kind) == {"commit", "identity", "account"}


def test_replies_form_deep_chains_with_correct_refs(sample: Parsed) -> None:
    posts = {}
    for e in _posts(sample):
        uri = f"at://{e['did']}/app.bsky.feed.post/{e['commit']['rkey']}"
        posts[uri] = e
    depth: dict[str, int] = {}
    other_author = 0
    replies = 0
    for uri, e in sorted(posts.items(), key=lambda kv: kv[1]["time_us"]):
        reply = e["commit"]["record"].get("reply")
        if reply is None:
            depth[uri] = 0
            continue
        replies += 1
        parent = posts[reply["parent"]["uri"]]  # every parent was emitted earlier in the sample
        assert parent["time_us"] < e["time_us"]
        assert reply["parent"]["cid"] == parent["commit"]["cid"]
        parent_reply = parent["commit"]["record"].get("reply")
        expected_root = parent_reply["root"] if parent_reply else reply["parent"]
        assert reply["root"] == expected_root
        other_author += parent["did"] != e["did"]
        depth[uri] = depth[reply["parent"]["uri"]] + 1
    assert replies > 1000 and other_author == replies
    assert max(depth.values()) >= 4
    assert sum(1 for d in depth.values() if d >= 3) > 50


def test_quotes_use_record_and_record_with_media(sample: Parsed) -> None:
    embeds = Counter(e["commit"]["record"].get("embed", {}).get("$type") for e in _posts(sample))
    assert embeds["app.bsky.embed.record"] > 100 and embeds["app.bsky.embed.recordWithMedia"] > 20
    assert embeds["app.bsky.embed.images"] > 50 and embeds["app.bsky.embed.external"] > 10
    quoting_replies = [
        e
        for e in _posts(sample)
        if "reply" in e["commit"]["record"] and e["commit"]["record"].get("embed", {}).get("record")
    ]
    assert quoting_replies  # the "a reply that also quotes is a reply" rule gets exercised


# ----- text content -----------------------------------------------------------------------------------------
def test_facet_byte_ranges_point_at_the_right_substring(sample: Parsed) -> None:
    handles = {u.did: u.handle for u in make_users(2000, 7)}
    kinds = Counter()
    shifted = 0
    for e in _posts(sample):
        rec = e["commit"]["record"]
        raw = rec["text"].encode()
        for facet in rec.get("facets", []):
            start, end = facet["index"]["byteStart"], facet["index"]["byteEnd"]
            span = raw[start:end].decode()  # raises if the range cuts a multi-byte character
            feature = facet["features"][0]
            kind = feature["$type"].rsplit("#", 1)[1]
            kinds[kind] += 1
            if kind == "mention":
                assert span == "@" + handles[feature["did"]]
            elif kind == "tag":
                assert span == "#" + feature["tag"]
            else:
                assert span == feature["uri"] or (span.endswith("...") and span[:-3] in feature["uri"])
            shifted += len(raw[:start].decode()) != start  # emoji/accents before the facet
    assert kinds["mention"] > 200 and kinds["tag"] > 1000 and kinds["link"] > 200
    assert shifted > 100


def test_languages_and_lengths(sample: Parsed) -> None:
    posts = _posts(sample)
    langs = Counter(e["commit"]["record"]["langs"][0] for e in posts)
    assert {"en", "de", "es", "fr", "ja", "pt"} <= set(langs)
    share = 1 - langs["en"] / len(posts)
    assert 0.10 <= share <= 0.20
    lengths = sorted(
        len(e["commit"]["record"]["text"]) for e in posts if e["commit"]["record"]["langs"] == ["en"]
    )
    assert 120 <= lengths[len(lengths) // 2] <= 300


def test_enough_english_posters_and_political_ones(sample: Parsed) -> None:
    by_user: dict[str, list[str]] = defaultdict(list)
    for e in _posts(sample):
        rec = e["commit"]["record"]
        if rec["langs"] == ["en"]:
            by_user[e["did"]].append(rec["text"])
    eligible = {did: texts for did, texts in by_user.items() if len(texts) >= 2}
    political = [did for did, texts in eligible.items() if any(is_political_text(t) for t in texts)]
    assert len(eligible) >= 800
    assert len(political) >= 300
    # The keyword filter separates personas exactly: no non-political user ever writes a keyword.
    truth = {u.did: u.political for u in make_users(2000, 7)}
    for did, texts in by_user.items():
        flags = {is_political_text(t) for t in texts}
        assert flags == {truth[did]}, did
    assert all(k in " ".join(t for ts in eligible.values() for t in ts).lower() for k in POLITICAL_KEYWORDS)


def test_persona_vocabulary_is_distinct(sample: Parsed) -> None:
    """Posts of one persona share vocabulary that other personas' posts lack (what clustering feeds on)."""
    persona = {u.did: u.persona for u in make_users(2000, 7)}
    words: dict[str, Counter[str]] = defaultdict(Counter)
    for e in _posts(sample):
        rec = e["commit"]["record"]
        if rec["langs"] == ["en"]:
            words[persona[e["did"]]].update(set(re.findall(r"[a-z]{5,}", rec["text"].lower())))
    assert len(words) == 30
    for name, counts in words.items():
        others = Counter()
        for other, c in words.items():
            if other != name:
                others.update(c)
        distinctive = [w for w, _ in counts.most_common(40) if others[w] == 0]
        assert len(distinctive) >= 3, name


# ----- planted PII ------------------------------------------------------------------------------------------
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def _btc_ok(addr: str) -> bool:
    n = 0
    for ch in addr:
        n = n * 58 + _B58.index(ch)
    raw = n.to_bytes(25, "big")
    return hashlib.sha256(hashlib.sha256(raw[:21]).digest()).digest()[:4] == raw[21:]


def _luhn(num: str) -> bool:
    digits = [int(c) for c in num][::-1]
    return (
        sum(d if i % 2 == 0 else (d * 2 - 9 if d * 2 > 9 else d * 2) for i, d in enumerate(digits)) % 10 == 0
    )


def _iban_ok(iban: str) -> bool:
    moved = iban[4:] + iban[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def test_planted_pii_of_every_type_is_valid(sample: Parsed) -> None:
    texts = [e["commit"]["record"]["text"] for e in _posts(sample)]
    joined = "\n".join(texts)
    emails = re.findall(r"[\w.+-]+@(?:mail\.)?example\.(?:com|org|net)", joined)
    cards = re.findall(r"\b(?:\d[ -]?){13,16}\b", joined)
    btc = re.findall(r"\b[13][1-9A-HJ-NP-Za-km-z]{25,34}\b", joined)
    ibans = re.findall(r"\bDE\d{20}\b", joined)
    ips = re.findall(r"\b(?:192\.0\.2|198\.51\.100|203\.0\.113)\.\d{1,3}\b|2001:db8::[0-9a-f]+", joined)
    phones = re.findall(
        r"\(202\) 555-0\d{3}|\+1 415-555-0\d{3}|\+44 20 7946 0\d{3}|\+49 30 \d{7}|\+3[34] [\d ]{9,}", joined
    )
    urls = re.findall(
        r"https://blog\.example\.org/\S+|www\.example\.com/\S+|(?<![\w.@/])example\.net/\S+", joined
    )
    at_uris = re.findall(r"at://did:plc:[a-z2-7]{24}/app\.bsky\.feed\.post/[a-z2-7]{13}", joined)
    plain_handles = re.findall(r"(?:Shout out to|Ask) @([\w.-]+)", joined)
    dids = re.findall(r"(?:account is|Moved to) (did:plc:[a-z2-7]{24})", joined)
    for name, found in [
        ("email", emails),
        ("card", cards),
        ("btc", btc),
        ("iban", ibans),
        ("ip", ips),
        ("phone", phones),
        ("url", urls),
        ("at_uri", at_uris),
        ("handle", plain_handles),
        ("did", dids),
    ]:
        assert len(found) >= 20, name
    assert all(_luhn(re.sub(r"\D", "", c)) for c in cards)
    assert all(_btc_ok(a) for a in btc)
    assert all(_iban_ok(i) for i in ibans)
    assert any(h.endswith(".bsky.social") for h in plain_handles)
    assert any(".example." in h for h in plain_handles)
    assert any(not u.startswith("https://") for u in urls) and any(u.startswith("https://") for u in urls)
    with_pii = sum(
        1 for t in texts if any(k in t for k in ("Email me", "write to", "Call me", "office number"))
    )
    assert with_pii > 0
    planted = sample.summary.pii_planted
    assert set(planted) == set(DEFAULT_ENTITIES)  # every type the anonymizer looks for is planted
    assert 0.07 <= sum(planted.values()) / len(texts) <= 0.13


def test_identities_are_fake_and_well_formed(sample: Parsed) -> None:
    users = make_users(2000, 7)
    known = {u.did for u in users}
    assert len(known) == 2000
    text = "\n".join(ln.text for ln in sample.lines if ln.event is not None)
    all_dids = set(DID_IN_TEXT_RE.findall(text))
    assert all(DID_RE.match(d) for d in all_dids)
    assert {e["did"] for e in sample.distinct_events()} <= known
    assert len(all_dids - known) <= 200  # the accounts outside the sample that get liked/followed
    assert not re.search(r"did:(?!plc:[a-z2-7]{24})", text)
    real_file = samples_dir() / "jetstream_examples.json"
    if real_file.exists():
        real = set(DID_IN_TEXT_RE.findall(real_file.read_text()))
        assert real and not (real & all_dids)


# ----- broken input ---------------------------------------------------------------------------------------
def test_malformed_lines_and_duplicates(sample: Parsed) -> None:
    problems = Counter(ln.problem for ln in sample.lines if ln.problem)
    s = sample.summary
    assert s.malformed == sum(problems.values()) == sum(s.malformed_by_reason.values())
    assert set(s.malformed_by_reason) == set(MALFORMED_REASONS)
    assert problems["missing_did"] == s.malformed_by_reason["missing_did"]
    assert problems["missing_time_us"] == s.malformed_by_reason["missing_time_us"]
    assert problems["bad_time_us"] == s.malformed_by_reason["bad_time_us"]
    assert problems["unparseable"] == s.malformed_by_reason["truncated"] + s.malformed_by_reason["not_json"]
    per_day = Counter(ln.path[:10] for ln in sample.lines if ln.problem)
    assert sorted(per_day) == ["2025-03/01", "2025-03/02", "2025-03/03"] and min(per_day.values()) >= 6
    texts = Counter(ln.text for ln in sample.lines if ln.event is not None)
    dups = sum(n - 1 for n in texts.values())
    assert dups == s.duplicates >= 3
    assert s.lines == len(sample.lines)
    assert s.events == len(texts)


def test_cross_day_and_unresolvable_deletes(sample: Parsed) -> None:
    day = lambda us: us // (24 * HOUR_US)  # noqa: E731
    created: dict[tuple[str, str, str], int] = {}
    cross, unresolved, same_day = 0, 0, 0
    cross_updates = 0
    for e in sorted(sample.distinct_events(), key=lambda e: e["time_us"]):
        if e["kind"] != "commit":
            continue
        c = e["commit"]
        key = (e["did"], c["collection"], c["rkey"])
        if c["operation"] == "create":
            created[key] = e["time_us"]
        elif key not in created:
            unresolved += c["operation"] == "delete"
        elif day(created[key]) < day(e["time_us"]):
            cross += 1
            cross_updates += c["operation"] == "update"
        else:
            same_day += 1
    assert cross >= 100 and cross_updates >= 5 and same_day > 0
    assert 5 <= unresolved <= 0.2 * sum(1 for e in sample.distinct_events() if _action_of(e) in UNDO.values())
    assert sample.summary.cross_day_undos >= 100
