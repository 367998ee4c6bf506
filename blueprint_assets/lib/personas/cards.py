"""Persona cards: one Markdown page per cluster, built only from public-safe (anonymized) inputs.

Each card shows the cluster's size, its action-type mix against the population, activity, its most
distinctive terms (lib/personas/card_terms.py) and three representative posts nearest the cluster centroid.
Output is deterministic: every ranking has an explicit tie-break. A release's Ks share one read of the
rows (`CardInputs`: actors and actions as codes, the posts' tokens as (word, author) couples); each K
counts them with numpy and takes each cluster's posts from one sort (`cards_of`), ordering only the
nearest run of ties in Python.
"""

from __future__ import annotations

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
from blueprint_assets.lib.personas.card_terms import Codes, Couples, Tokens, term_scores
from blueprint_assets.lib.release.audit.evidence import findable_keys, text_key
from blueprint_assets.lib.release.policy import QUOTE_MIN_CLUSTER_SIZE

Rows = pa.Table | Sequence[Mapping[str, Any]]
AUTHORED = frozenset({"post", "reply", "quote"})
# Backslash-escape Markdown syntax so posts render literally (placeholders would otherwise vanish as HTML).
MD_SPECIAL_RE = re.compile(r"([\\`*_\[\]<>#|~])")


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


def _escape(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    if len(flat) > limit:
        flat = flat[: limit - 1].rstrip() + "…"
    return MD_SPECIAL_RE.sub(r"\\\1", flat)


def _pct(part: float, whole: float) -> str:
    return f"{100.0 * part / whole:.1f}%" if whole else "n/a"


def representative_posts(
    inputs: CardInputs, posts: np.ndarray, centroid: np.ndarray, n: int
) -> list[tuple[str, float]]:
    """The n distinct texts among the authored posts at `posts` (indices into `inputs.authored`) whose
    vectors are most cosine-similar to the centroid: by similarity rounded to 9 places, ties by record id
    and text. Only the leading runs of ties are ordered in Python, not the cluster's every post; a post
    whose vector gives no similarity (NaN) comes last, and `n` = 0 chooses none."""
    c = np.asarray(centroid, dtype=np.float64)
    c = c / max(float(np.linalg.norm(c)), 1e-12)
    rows = inputs.vector_rows[posts]
    posts = posts[rows >= 0]
    if not len(posts):
        return []
    matrix = inputs.vectors.matrix[rows[rows >= 0]].astype(np.float64)
    similarity = ((matrix @ c) / np.maximum(np.linalg.norm(matrix, axis=1), 1e-12)).tolist()
    chosen: list[tuple[str, float]] = []
    seen: set[str] = set()
    ties: list[tuple[str, str, int, float]] = []
    tied = None
    for at in np.argsort(-np.asarray(similarity), kind="stable").tolist():
        rounded = round(similarity[at], 9)  # monotonic: equal rounded values are neighbours here
        if rounded != tied:
            if _choose(ties, seen, chosen, n):
                return chosen
            ties, tied = [], rounded
        _, record_id, text = inputs.authored[posts[at]]
        ties.append((record_id, text, at, rounded))  # its own rounded value: 0.0 and -0.0 tie, print apart
    _choose(ties, seen, chosen, n)
    return chosen


def _choose(ties: list[tuple[str, str, int, float]], seen: set[str], chosen: list, n: int) -> bool:
    """Add the texts of one run of tied posts, by record id, text and position, skipping texts already
    chosen (by their whitespace- and case-folded form); True once `n` are chosen."""
    for _, text, _, similarity in sorted(ties):
        if len(chosen) >= n:
            break
        key = " ".join(text.split()).lower()
        if key not in seen:
            seen.add(key)
            chosen.append((text, similarity))
    return len(chosen) >= n


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


@dataclass
class CardInputs:
    """What the cards of every K read, read once: the action rows (as codes of actor and action), the
    authored posts with their tokens, the post vectors and, on first use, the texts a search would find
    (`findable`)."""

    actors: Codes
    actions: Codes
    authored: list[tuple[str, str, str]]  # (actor, record_id, text) of the texted posts
    authors: Codes  # the actor of each authored post
    vocabulary: list[str]  # the words of their tokens
    couples: Couples  # their tokens, as (word, author) couples
    vectors: _Vectors
    vector_rows: np.ndarray  # each authored post's row in `vectors` (-1: it has none)
    texts: list[str | None]  # every post text, for `findable`
    _findable: set[str] | None = None

    @classmethod
    def read(
        cls, actions: Rows, posts: Rows, vectors: Mapping[str, Any] | pa.Table, workers: int = 1
    ) -> CardInputs:
        """actions: (actor, action) rows; posts: (actor, action, text, record_id) rows, of which only
        post/reply/quote with text are quoted; vectors: post_embeddings rows or record_id -> vector.
        `workers` forked processes share the tokenizing (`Tokens.of_texts`)."""
        actors, kinds = _columns(actions, ("actor", "action"))
        post_actors, post_kinds, texts, record_ids = _columns(posts, ("actor", "action", "text", "record_id"))
        authored = [
            (actor, record_id, text)
            for actor, action, text, record_id in zip(post_actors, post_kinds, texts, record_ids, strict=True)
            if action in AUTHORED and text and text.strip()
        ]
        authors = Codes.of([actor for actor, _, _ in authored])
        tokens = Tokens.of_texts([text for _, _, text in authored], workers)
        coded = _vectors(vectors)
        rows = np.fromiter((coded.row_of.get(r, -1) for _, r, _ in authored), np.int64, len(authored))
        couples = Couples.of(tokens, authors.codes)
        return cls(
            Codes.of(actors),
            Codes.of(kinds),
            authored,
            authors,
            tokens.vocabulary,
            couples,
            coded,
            rows,
            texts,
        )

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


def _cluster_of_names(users: Codes, user_cluster: dict[str, int], cluster_ids: list[int]) -> np.ndarray:
    """Per distinct user of a coded user column, its cluster's index in `cluster_ids` (-1: not clustered)."""
    dense = {cid: i for i, cid in enumerate(cluster_ids)}
    return np.asarray([dense.get(user_cluster.get(u), -1) for u in users.names], np.int64)


def _action_counts(
    inputs: CardInputs, user_cluster: dict[str, int], cluster_ids: list[int]
) -> tuple[Counter[str], dict[int, Counter[str]]]:
    """(actions per clustered user, actions per cluster by type), counted over codes with numpy: a release's
    every K counts the window's actions."""
    actors, actions = inputs.actors, inputs.actions
    cluster = _cluster_of_names(actors, user_cluster, cluster_ids)[actors.codes]
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

    author_cluster = _cluster_of_names(inputs.authors, user_cluster, cluster_ids)
    post_cluster = author_cluster[inputs.authors.codes]
    terms = term_scores(
        inputs.couples,
        inputs.vocabulary,
        author_cluster,
        cluster_ids,
        options.n_terms,
        options.min_term_users,
    )
    # Each cluster's authored posts, in their order: one stable sort, cut per cluster.
    by_cluster_posts = np.argsort(post_cluster, kind="stable")
    cuts = np.searchsorted(post_cluster[by_cluster_posts], np.arange(len(cluster_ids) + 1))
    # Only clusters under quote_min_cluster_size need the (costly) set of findable texts.
    small = any(len(members[cid]) < options.quote_min_cluster_size for cid in cluster_ids)
    findable = inputs.findable() if small else set()

    cards: dict[int, str] = {}
    for index, cid in enumerate(cluster_ids):
        stats = _activity([per_user[u] for u in members[cid]], by_cluster[cid])
        posts = by_cluster_posts[cuts[index] : cuts[index + 1]]
        quotable = posts
        if len(members[cid]) < options.quote_min_cluster_size:
            keep = (text_key(inputs.authored[at][2]) not in findable for at in posts.tolist())
            quotable = posts[np.fromiter(keep, bool, len(posts))]
        centroid = np.asarray(centroids[cid])
        examples = representative_posts(inputs, quotable, centroid, options.n_posts)
        withheld = not examples and len(quotable) < len(posts)
        withheld = withheld and bool(representative_posts(inputs, posts, centroid, 1))
        cards[cid] = _render(cid, len(members[cid]), stats, pop, terms[cid], examples, options, withheld)
    return cards
