"""Persona cards: one Markdown page per cluster, built only from public-safe (anonymized) inputs.

Each card shows the cluster's size, its action-type mix against the population, activity, its most
distinctive terms (class-based TF-IDF of the cluster vs the whole population, over anonymized text
with placeholders removed) and three representative posts nearest the cluster centroid.
Output is deterministic: every ranking has an explicit tie-break. A release's Ks share one read of the
rows (`CardInputs`: actors, actions and tokens as codes); each K counts them with numpy (`cards_of`).
"""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from blueprint_assets.lib.actions_space import ACTION_ORDER
from blueprint_assets.lib.release.audit.evidence import findable_keys, text_key
from blueprint_assets.lib.release.policy import QUOTE_MIN_CLUSTER_SIZE

Rows = pa.Table | Sequence[Mapping[str, Any]]
AUTHORED = frozenset({"post", "reply", "quote"})
PLACEHOLDER_RE = re.compile(r"<[A-Z][A-Z_]*>")
# Letter-only words (any script), with an optional apostrophe suffix ("don't"); digits never count.
TOKEN_RE = re.compile(r"[^\W\d_]{2,}(?:'[^\W\d_]+)?")
# Backslash-escape Markdown syntax so posts render literally (placeholders would otherwise vanish as HTML).
MD_SPECIAL_RE = re.compile(r"([\\`*_\[\]<>#|~])")
_STOPWORDS_TEXT = """a about above after again against all also am an and any are aren't as at be because been before being
    below between both but by can can't could couldn't did didn't do does doesn't doing don't down during each
    even few for from further get got had hadn't has hasn't have haven't having he he's her here here's hers
    herself him himself his how how's i i'm i've if in into is isn't it it's its itself just let's like me
    more most much my myself no nor not now of off on once one only or other our ours ourselves out over own
    really same she she's should shouldn't so some such than that that's the their theirs them themselves then
    there there's these they they're they've this those through to too under until up us very was wasn't we
    we're we've were weren't what what's when where which while who who's whom why will with won't would
    wouldn't yes yet you you're you've your yours yourself yourselves im dont cant thats its ive youre"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())


@dataclass(frozen=True)
class CardOptions:
    """Knobs for card content. `min_term_users` keeps one user's idiosyncratic words (e.g. names) out."""

    n_terms: int = 12
    n_posts: int = 3
    min_term_users: int = 3
    max_post_chars: int = 280
    quote_min_cluster_size: int = QUOTE_MIN_CLUSTER_SIZE


def _columns(rows: Rows, names: Sequence[str]) -> list[list[Any]]:
    if isinstance(rows, pa.Table):
        missing = [n for n in names if n not in rows.column_names]
        if missing:
            raise ValueError(f"card input lacks columns {missing}")
        return [rows.column(n).to_pylist() for n in names]
    return [[row.get(n) for row in rows] for n in names]


def _user_clusters(clusters: Mapping[str, int] | Rows) -> dict[str, int]:
    if isinstance(clusters, Mapping):
        return {str(u): int(c) for u, c in clusters.items()}
    users, ids = _columns(clusters, ("user", "cluster_id"))
    return {u: int(c) for u, c in zip(users, ids, strict=True)}


class _Vectors(NamedTuple):
    """Post vectors as one float32 matrix and the row of each record id (the last row when repeated)."""

    row_of: dict[str, int]
    matrix: np.ndarray


def _vectors(vectors: Mapping[str, Any] | pa.Table) -> _Vectors:
    """The vectors of posts that have one, read column-wise from an Arrow table (no list per vector)."""
    if isinstance(vectors, pa.Table):
        if "record_id" not in vectors.column_names or "vector" not in vectors.column_names:
            raise ValueError("card input lacks columns ['record_id', 'vector']")
        column = vectors.column("vector").combine_chunks()
        ids = vectors.column("record_id").to_pylist()
        if column.null_count:  # posts without a vector are left out
            present = column.is_valid()
            ids = [record_id for record_id, keep in zip(ids, present.to_pylist(), strict=True) if keep]
            column = column.filter(present)
        values = pc.list_flatten(column).to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
        dims = set(pc.list_value_length(column).to_numpy(zero_copy_only=False).tolist())
        if len(dims) > 1:
            raise ValueError(f"post vectors of different lengths {sorted(dims)}")
        matrix = values.reshape(len(ids), dims.pop() if dims else 0)
    else:
        ids = list(vectors)
        matrix = np.asarray([np.asarray(vectors[i], dtype=np.float32) for i in ids], dtype=np.float32)
    return _Vectors({record_id: row for row, record_id in enumerate(ids)}, matrix)


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens of anonymized text, without placeholders, stopwords or numbers."""
    cleaned = PLACEHOLDER_RE.sub(" ", text).lower().replace("’", "'")
    return [tok for tok in TOKEN_RE.findall(cleaned) if tok not in STOPWORDS]


def distinctive_terms(
    texts_by_cluster: Mapping[int, Sequence[tuple[str, str]]], n_terms: int = 12, min_term_users: int = 3
) -> dict[int, list[tuple[str, float, float, float]]]:
    """Class-based TF-IDF (BERTopic's c-TF-IDF): a cluster's term frequency weighted by log(1 + A / f_t).

    `texts_by_cluster` maps cluster id to (user, text) pairs. A is the mean number of tokens per cluster
    and f_t the term's count over all clusters, so terms common everywhere score low. Returns, per cluster,
    (term, score, per-1k-tokens in the cluster, per-1k-tokens in the rest), best first, ties by term.
    """
    cids = list(texts_by_cluster)
    pairs = [(index, user, text) for index, cid in enumerate(cids) for user, text in texts_by_cluster[cid]]
    tokens = _Tokens.of([tokenize(text) for _, _, text in pairs])
    users = _Codes.of([user for _, user, _ in pairs])
    clusters = np.fromiter((index for index, _, _ in pairs), np.int64, len(pairs))
    return _term_scores(tokens, clusters, users.codes, cids, n_terms, min_term_users)


class _Tokens(NamedTuple):
    """The tokens of many texts as codes into one vocabulary, with the text each token is from."""

    codes: np.ndarray
    text: np.ndarray
    vocabulary: list[str]

    @classmethod
    def of(cls, token_lists: list[list[str]]) -> _Tokens:
        words = _Codes.of([token for tokens in token_lists for token in tokens])
        lengths = np.fromiter((len(tokens) for tokens in token_lists), np.int64, len(token_lists))
        return cls(words.codes, np.repeat(np.arange(len(token_lists)), lengths), words.names)


def _distinct(values: np.ndarray) -> np.ndarray:
    """The distinct values, sorted (numpy's hash-based `unique` is several times slower on int64 here)."""
    ordered = np.sort(values)
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))] if len(ordered) else ordered


def _term_scores(
    tokens: _Tokens, cluster_of_text: np.ndarray, user_of_text: np.ndarray, cids: list[int],
    n_terms: int, min_term_users: int,
) -> dict[int, list[tuple[str, float, float, float]]]:  # fmt: skip
    """`distinctive_terms` of tokenized texts: each text's cluster (an index into `cids`, -1: none) and
    user code. Tokens and distinct users per (cluster, term) are counted with numpy; only the pairs used
    by enough users are scored, in Python, with the same float operations as ever."""
    cluster = cluster_of_text[tokens.text]
    kept = cluster >= 0
    cluster, term = cluster[kept], tokens.codes[kept]
    user = user_of_text[tokens.text][kept]
    words, people = len(tokens.vocabulary), int(user.max(initial=0)) + 1
    pairs, pair_of_token, counts = np.unique(cluster * words + term, return_inverse=True, return_counts=True)
    # Distinct (pair, user) couples, counted per pair; keyed by the pair's index (< tokens), not its value,
    # so the key stays below tokens x users and cannot overflow.
    users_per_pair = np.bincount(_distinct(pair_of_token * people + user) // people, minlength=len(pairs))
    total = np.bincount(term, minlength=words).tolist()
    sizes = np.bincount(cluster, minlength=len(cids)).tolist()
    grand = sum(sizes)
    avg_tokens = grand / max(len(cids), 1)
    scored: list[list[tuple[str, float, float, float]]] = [[] for _ in cids]
    used = users_per_pair >= min_term_users
    for pair, count in zip(pairs[used].tolist(), counts[used].tolist(), strict=True):
        index, code = divmod(pair, words)
        size, rest = sizes[index], grand - sizes[index]
        score = (count / size) * math.log(1.0 + avg_tokens / total[code])
        rest_rate = 1000.0 * (total[code] - count) / rest if rest else 0.0
        scored[index].append((tokens.vocabulary[code], score, 1000.0 * count / size, rest_rate))
    for terms in scored:
        terms.sort(key=lambda item: (-round(item[1], 12), item[0]))
    return {cid: terms[:n_terms] for cid, terms in zip(cids, scored, strict=True)}


def _escape(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    if len(flat) > limit:
        flat = flat[: limit - 1].rstrip() + "…"
    return MD_SPECIAL_RE.sub(r"\\\1", flat)


def _pct(part: float, whole: float) -> str:
    return f"{100.0 * part / whole:.1f}%" if whole else "n/a"


def representative_posts(
    posts: Sequence[tuple[str, str]], vectors: _Vectors, centroid: np.ndarray, n: int
) -> list[tuple[str, float]]:
    """The n distinct texts whose vectors are most cosine-similar to the centroid, ties by record id."""
    c = np.asarray(centroid, dtype=np.float64)
    c = c / max(float(np.linalg.norm(c)), 1e-12)
    rows = [(vectors.row_of.get(record_id), record_id, text) for record_id, text in posts]
    rows = [row for row in rows if row[0] is not None]
    if not rows:
        return []
    matrix = vectors.matrix[[row for row, _, _ in rows]].astype(np.float64)
    similarity = (matrix @ c) / np.maximum(np.linalg.norm(matrix, axis=1), 1e-12)
    scored = sorted(
        (-round(sim, 9), record_id, text)
        for sim, (_, record_id, text) in zip(similarity.tolist(), rows, strict=True)
    )
    chosen: list[tuple[str, float]] = []
    seen: set[str] = set()
    for neg_sim, _, text in scored:
        key = " ".join(text.split()).lower()
        if key in seen:
            continue
        seen.add(key)
        chosen.append((text, -neg_sim))
        if len(chosen) == n:
            break
    return chosen


def _render(
    cid: int,
    n_users: int,
    stats: dict[str, Any],
    pop: dict[str, Any],
    terms: list[tuple[str, float, float, float]],
    examples: list[tuple[str, float]],
    options: CardOptions,
    withheld: bool = False,
) -> str:
    c_actions, p_actions = stats["actions"], pop["actions"]
    c_total, p_total = sum(c_actions.values()), sum(p_actions.values())
    lines = [
        f"# Persona cluster {cid}",
        "",
        f"- Users: {n_users} ({_pct(n_users, pop['users'])} of users)",
        f"- Actions: {c_total} ({_pct(c_total, p_total)} of actions)",
        f"- Actions per user: mean {stats['mean']:.1f}, median {stats['median']:.1f} "
        f"(population: mean {pop['mean']:.1f}, median {pop['median']:.1f})",
        f"- Replies among authored posts (post, reply, quote): {_pct(stats['replies'], stats['authored'])} "
        f"(population: {_pct(pop['replies'], pop['authored'])})",
        "",
        "## Action types",
        "",
        "| action | count | cluster share | population share |",
        "|---|---:|---:|---:|",
    ]
    for action in ACTION_ORDER:
        lines.append(
            f"| {action} | {c_actions[action]} | {_pct(c_actions[action], c_total)} "
            f"| {_pct(p_actions[action], p_total)} |"
        )
    lines += ["", "## Distinctive terms", ""]
    if terms:
        lines += ["| term | per 1k words (cluster) | per 1k words (rest) |", "|---|---:|---:|"]
        lines += [f"| {_escape(t, 60)} | {inside:.2f} | {rest:.2f} |" for t, _, inside, rest in terms]
    else:
        lines.append(f"_No term is used by at least {options.min_term_users} users of this cluster._")
    lines += ["", "## Representative posts", "", "Anonymized posts nearest the cluster centroid.", ""]
    if examples:
        for text, sim in examples:
            lines += [
                f"> {_escape(text, options.max_post_chars)}",
                ">",
                f"> (cosine similarity {sim:.3f})",
                "",
            ]
    else:
        lines += [
            f"_No post quoted: in a cluster under {options.quote_min_cluster_size} users, only posts too short or "
            "too common to be found by a text search are quoted, and there is none._"
            if withheld
            else "_No embedded posts in this cluster._",
            "",
        ]
    return "\n".join(lines).rstrip() + "\n"


def _activity(per_user: Sequence[int], actions: Counter[str]) -> dict[str, Any]:
    return {
        "actions": {a: actions.get(a, 0) for a in ACTION_ORDER},
        "mean": statistics.fmean(per_user) if per_user else 0.0,
        "median": float(statistics.median(per_user)) if per_user else 0.0,
        "replies": actions.get("reply", 0),
        "authored": sum(actions.get(a, 0) for a in AUTHORED),
    }


class _Codes(NamedTuple):
    """A column as the index of each value into its distinct values, in order of first appearance."""

    codes: np.ndarray
    names: list[Any]

    @classmethod
    def of(cls, values: list[Any]) -> _Codes:
        index: dict[Any, int] = {}  # any hashable value, None included, as the rows hold it
        codes = np.fromiter((index.setdefault(v, len(index)) for v in values), np.int64, len(values))
        return cls(codes, list(index))


@dataclass
class CardInputs:
    """What the cards of every K read, read once: the action rows (as codes of actor and action), the
    authored posts with their tokens, the post vectors and, on first use, the texts a search would find
    (`findable`)."""

    actors: _Codes
    actions: _Codes
    authored: list[tuple[str, str, str]]  # (actor, record_id, text) of the texted posts
    authors: _Codes  # the actor of each authored post
    tokens: _Tokens  # their tokens
    vectors: _Vectors
    texts: list[str | None]  # every post text, for `findable`
    _findable: set[str] | None = None

    @classmethod
    def read(cls, actions: Rows, posts: Rows, vectors: Mapping[str, Any] | pa.Table) -> CardInputs:
        """actions: (actor, action) rows; posts: (actor, action, text, record_id) rows, of which only
        post/reply/quote with text are quoted; vectors: post_embeddings rows or record_id -> vector."""
        actors, kinds = _columns(actions, ("actor", "action"))
        post_actors, post_kinds, texts, record_ids = _columns(posts, ("actor", "action", "text", "record_id"))
        authored = [
            (actor, record_id, text)
            for actor, action, text, record_id in zip(post_actors, post_kinds, texts, record_ids, strict=True)
            if action in AUTHORED and text and text.strip()
        ]
        authors = _Codes.of([actor for actor, _, _ in authored])
        tokens = _Tokens.of([tokenize(text) for _, _, text in authored])
        return cls(_Codes.of(actors), _Codes.of(kinds), authored, authors, tokens, _vectors(vectors), texts)

    def findable(self) -> set[str]:
        """`findable_keys` of every post text (only clusters under quote_min_cluster_size need it)."""
        if self._findable is None:
            self._findable = findable_keys(self.texts)
        return self._findable


def build_persona_cards(
    clusters: Mapping[str, int] | Rows,
    actions: Rows,
    posts: Rows,
    vectors: Mapping[str, Any] | pa.Table,
    centroids: np.ndarray | Mapping[int, Any],
    options: CardOptions | None = None,
) -> dict[int, str]:
    """Markdown card per cluster id.

    clusters: user -> cluster_id, or persona_clusters rows (user, cluster_id).
    actions: anonymized action rows (actor, action) of the release window; rows of unclustered users are
      ignored for the population too, so shares compare the cluster with the clustered population.
    posts: anonymized rows with (actor, action, text, record_id); only post/reply/quote with text are used
      (may be the same table as `actions`).
    vectors: post_embeddings rows (record_id, vector) or record_id -> vector.
    centroids: (k, d) array or cluster_id -> vector, in the post-vector space.
    """
    return cards_of(CardInputs.read(actions, posts, vectors), clusters, centroids, options)


def _cluster_index(users: _Codes, user_cluster: dict[str, int], cluster_ids: list[int]) -> np.ndarray:
    """Per row of a coded user column, its cluster's index in `cluster_ids` (-1: not clustered)."""
    dense = {cid: i for i, cid in enumerate(cluster_ids)}
    return np.asarray([dense.get(user_cluster.get(u), -1) for u in users.names], np.int64)[users.codes]


def _action_counts(
    inputs: CardInputs, user_cluster: dict[str, int], cluster_ids: list[int]
) -> tuple[Counter[str], dict[int, Counter[str]]]:
    """(actions per clustered user, actions per cluster by type), counted over codes with numpy: a release's
    every K counts the window's actions."""
    actors, actions = inputs.actors, inputs.actions
    cluster = _cluster_index(actors, user_cluster, cluster_ids)
    kept = cluster >= 0
    per_actor = np.bincount(actors.codes[kept], minlength=len(actors.names)).tolist()
    per_user = Counter({u: n for u, n in zip(actors.names, per_actor, strict=True) if n})
    kinds = max(len(actions.names), 1)
    table = np.bincount(cluster[kept] * kinds + actions.codes[kept], minlength=len(cluster_ids) * kinds)
    by_cluster = {
        cid: Counter({name: n for name, n in zip(actions.names, row, strict=False) if n})
        for cid, row in zip(cluster_ids, table.reshape(len(cluster_ids), kinds).tolist(), strict=True)
    }
    return per_user, by_cluster


def cards_of(
    inputs: CardInputs,
    clusters: Mapping[str, int] | Rows,
    centroids: np.ndarray | Mapping[int, Any],
    options: CardOptions | None = None,
) -> dict[int, str]:
    """`build_persona_cards` of one clustering from inputs read once (a release's Ks share them)."""
    options = options or CardOptions()
    user_cluster = _user_clusters(clusters)
    cluster_ids = sorted(set(user_cluster.values()))
    per_user, by_cluster = _action_counts(inputs, user_cluster, cluster_ids)
    members: dict[int, list[str]] = defaultdict(list)
    for user, cid in sorted(user_cluster.items()):
        members[cid].append(user)
    population: Counter[str] = Counter()
    for counter in by_cluster.values():
        population.update(counter)
    pop = _activity([per_user[u] for u in sorted(user_cluster)], population)
    pop["users"] = len(user_cluster)

    records: dict[int, list[tuple[str, str]]] = {cid: [] for cid in cluster_ids}
    for actor, record_id, text in inputs.authored:
        cid = user_cluster.get(actor)
        if cid is not None:
            records[cid].append((record_id, text))
    terms = _term_scores(
        inputs.tokens, _cluster_index(inputs.authors, user_cluster, cluster_ids), inputs.authors.codes,
        cluster_ids, options.n_terms, options.min_term_users,
    )  # fmt: skip
    # Only clusters under quote_min_cluster_size need the (costly) set of findable texts.
    small = any(len(members[cid]) < options.quote_min_cluster_size for cid in cluster_ids)
    findable = inputs.findable() if small else set()

    cards: dict[int, str] = {}
    for cid in cluster_ids:
        stats = _activity([per_user[u] for u in members[cid]], by_cluster[cid])
        quotable = records[cid]
        if len(members[cid]) < options.quote_min_cluster_size:
            quotable = [(r, t) for r, t in quotable if text_key(t) not in findable]
        centroid = np.asarray(centroids[cid])
        examples = representative_posts(quotable, inputs.vectors, centroid, options.n_posts)
        withheld = not examples and len(quotable) < len(records[cid])
        withheld = withheld and bool(representative_posts(records[cid], inputs.vectors, centroid, 1))
        cards[cid] = _render(cid, len(members[cid]), stats, pop, terms[cid], examples, options, withheld)
    return cards
