"""Persona cards from anonymized rows, real sentence embeddings and cluster centroids."""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pytest

from blueprint_assets.lib.actions_space import ACTION_ORDER
from blueprint_assets.lib.personas.card_terms import distinctive_terms, tokenize
from blueprint_assets.lib.personas.cards import CardOptions, build_persona_cards
from blueprint_assets.lib.personas.encoder import load_encoder

POLITICS = [
    "The ballot count in the election is still going <URL>",
    "Voters deserve a fair election and every ballot counted",
    "Senate hearing on election security today, ballot audits matter",
]
GARDEN = [
    "My tomato seedlings finally sprouted in the garden",
    "Compost and mulch make the garden soil so rich",
    "Pruning roses in the garden this morning, tomato plants next",
]


def _dataset() -> tuple[dict[str, int], list[dict]]:
    clusters: dict[str, int] = {}
    rows: list[dict] = []
    for cid, (topic, texts) in enumerate((("pol", POLITICS), ("gar", GARDEN))):
        for u in range(4):
            user = f"{topic}{u}"
            clusters[user] = cid
            for i, text in enumerate(texts):
                action = "post" if (cid == 0 or i == 0) else "reply"
                extra = " thanks <USERNAME>" if u == 1 else ""
                rows.append(
                    {"actor": user, "action": action, "text": text + extra, "record_id": f"{user}-p{i}"}
                )
            # Politics users like a lot; gardeners follow.
            for j in range(6 if cid == 0 else 1):
                rows.append(
                    {
                        "actor": user,
                        "action": "like" if cid == 0 else "follow",
                        "text": None,
                        "record_id": f"{user}-a{j}",
                    }
                )
    # One politics user mentions a name nobody else uses: it must not become a "distinctive term".
    rows.append(
        {
            "actor": "pol0",
            "action": "post",
            "text": "Zorblax Quimby said the election was stolen",
            "record_id": "pol0-x",
        }
    )
    # Rows of users outside the clustering are ignored.
    rows.append({"actor": "stranger", "action": "block", "text": None, "record_id": "s-1"})
    return clusters, rows


@pytest.fixture(scope="module")
def inputs() -> tuple[dict[str, int], list[dict], dict[str, np.ndarray], np.ndarray]:
    clusters, rows = _dataset()
    texts = [r for r in rows if r["text"]]
    vectors = load_encoder().encode([r["text"] for r in texts])
    by_record = {r["record_id"]: v for r, v in zip(texts, vectors, strict=True)}
    centroids = np.stack(
        [
            np.mean([by_record[r["record_id"]] for r in texts if clusters[r["actor"]] == cid], axis=0)
            for cid in (0, 1)
        ]
    )
    return clusters, rows, by_record, centroids


def test_card_sections_and_action_table(inputs) -> None:
    clusters, rows, vectors, centroids = inputs
    cards = build_persona_cards(clusters, rows, rows, vectors, centroids)
    assert sorted(cards) == [0, 1]
    card = cards[0]
    assert card.startswith("# Persona cluster 0\n")
    for heading in ("## Action types", "## Distinctive terms", "## Representative posts"):
        assert heading in card
    assert "- Users: 4 (50.0% of users)" in card
    # Cluster 0: 4 users x (3 posts + 6 likes) + 1 extra post = 37 actions of 37 + 4 x (3 + 1) = 53.
    assert "- Actions: 37 (69.8% of actions)" in card
    assert "- Actions per user: mean 9.2, median 9.0 (population: mean 6.6, median 6.5)" in card
    assert "| like | 24 | 64.9% | 45.3% |" in card
    assert "| post | 13 | 35.1% | 32.1% |" in card
    for action in ACTION_ORDER:
        assert f"| {action} |" in card
    # The stranger's block is not in the population.
    assert "| block | 0 | 0.0% | 0.0% |" in card
    assert "Replies among authored posts (post, reply, quote): 0.0% (population: 32.0%)" in card
    assert "Replies among authored posts (post, reply, quote): 66.7%" in cards[1]


def test_distinctive_terms_are_topical_and_privacy_filtered(inputs) -> None:
    clusters, rows, vectors, centroids = inputs
    cards = build_persona_cards(clusters, rows, rows, vectors, centroids)
    terms = {
        cid: re.findall(
            r"^\| (\w+) \| [\d.]+ \| [\d.]+ \|$", cards[cid].split("## Distinctive terms")[1], re.M
        )
        for cid in cards
    }
    assert terms[0][:2] == ["election", "ballot"]
    assert "garden" in terms[1][:2] and "tomato" in terms[1]
    assert not set(terms[0]) & set(terms[1])
    for words in terms.values():
        # Placeholders and words of a single user (here a name) are never listed.
        assert not {"url", "username", "zorblax", "quimby", "thanks"} & set(words)
    # The rate columns: "garden" is 0 per 1k words outside the gardening cluster.
    assert re.search(r"^\| garden \| [\d.]+ \| 0\.00 \|$", cards[1], re.M)


def test_representative_posts_come_from_the_cluster_and_are_escaped(inputs) -> None:
    clusters, rows, vectors, centroids = inputs
    cards = build_persona_cards(clusters, rows, rows, vectors, centroids)
    quotes = [line for line in cards[0].splitlines() if line.startswith("> ") and "cosine" not in line]
    assert len(quotes) == 3
    assert len(set(quotes)) == 3
    assert all(any(word in q.lower() for word in ("ballot", "election", "voters")) for q in quotes)
    # Placeholders stay visible in rendered Markdown instead of vanishing as HTML tags.
    assert "<URL>" not in cards[0] and "<USERNAME>" not in cards[0]
    garden_quotes = [line for line in cards[1].splitlines() if line.startswith("> ") and "cosine" not in line]
    assert all("garden" in q.lower() or "tomato" in q.lower() for q in garden_quotes)


def test_cards_are_deterministic_and_accept_arrow_tables(inputs) -> None:
    clusters, rows, vectors, centroids = inputs
    first = build_persona_cards(clusters, rows, rows, vectors, centroids)
    table = pa.Table.from_pylist(rows)
    persona_clusters = pa.table(
        {"user": list(clusters), "cluster_id": pa.array(clusters.values(), pa.int32())}
    )
    embeddings = pa.table(
        {
            "record_id": list(vectors),
            "vector": pa.array([v.tolist() for v in vectors.values()], type=pa.list_(pa.float32(), 384)),
        }
    )
    second = build_persona_cards(persona_clusters, table, table, embeddings, centroids)
    assert first == second


def test_posts_without_vectors_are_skipped(inputs) -> None:
    clusters, rows, _, centroids = inputs
    cards = build_persona_cards(clusters, rows, rows, {}, centroids, CardOptions(min_term_users=50))
    assert "_No embedded posts in this cluster._" in cards[0]
    assert "_No term is used by at least 50 users of this cluster._" in cards[0]


def test_tokenize_drops_placeholders_stopwords_and_numbers() -> None:
    assert tokenize("I DON’T think <URL> the 2024 Election's <EMAIL_ADDRESS> ballots") == [
        "think",
        "election's",
        "ballots",
    ]


def test_distinctive_terms_ranks_cluster_specific_words_first() -> None:
    texts = {
        0: [("a", "tax tax budget common"), ("b", "tax budget common"), ("c", "tax common")],
        1: [("d", "garden common"), ("e", "garden common"), ("f", "garden rose common")],
    }
    result = distinctive_terms(texts, n_terms=3, min_term_users=2)
    assert [t[0] for t in result[0]] == ["tax", "budget", "common"]
    assert [t[0] for t in result[1]] == ["garden", "common"]


def test_small_clusters_quote_no_text_a_search_could_find(inputs) -> None:
    from blueprint_assets.lib.release.audit.evidence import findable_keys, text_key

    clusters, rows, vectors, centroids = inputs
    findable = findable_keys(r["text"] for r in rows)

    def quoted(options: CardOptions) -> set[str]:
        cards = build_persona_cards(clusters, rows, rows, vectors, centroids, options)
        return {
            text_key(line[2:].replace("\\", ""))
            for card in cards.values()
            for line in card.splitlines()
            if line.startswith("> ") and "cosine" not in line
        }

    assert quoted(CardOptions(quote_min_cluster_size=0)) & findable, "the fixture has findable posts"
    small = quoted(CardOptions(quote_min_cluster_size=1000))
    assert small and not small & findable


def test_cards_of_shared_inputs_equal_each_clustering_built_alone(inputs) -> None:
    from blueprint_assets.lib.personas.cards import CardInputs, cards_of

    clusters, rows, vectors, centroids = inputs
    # A second granularity: every user in one cluster, small enough to quote only unfindable posts.
    together = {user: 0 for user in clusters}
    everyone = np.mean(list(vectors.values()), axis=0)[None, :]
    options = CardOptions(quote_min_cluster_size=50)
    shared = CardInputs.read(rows, rows, vectors)
    for grouping, centres in ((clusters, centroids), (together, everyone), (clusters, centroids)):
        alone = build_persona_cards(grouping, rows, rows, vectors, centres, options)
        assert cards_of(shared, grouping, centres, options) == alone
        assert len(alone) == len(set(grouping.values()))
    assert "election" in cards_of(shared, clusters, centroids, options)[0]


def _terms_by_loops(texts_by_cluster, n_terms: int, min_term_users: int):
    """The c-TF-IDF as first written, a Counter and a set per cluster: the oracle for the numpy counting."""
    import math
    from collections import Counter, defaultdict

    counts, users = {}, {}
    for cid, pairs in texts_by_cluster.items():
        counts[cid], users[cid] = Counter(), defaultdict(set)
        for user, text in pairs:
            for tok in tokenize(text):
                counts[cid][tok] += 1
                users[cid][tok].add(user)
    total = Counter()
    for counter in counts.values():
        total.update(counter)
    grand = sum(total.values())
    result = {}
    for cid, counter in counts.items():
        size, scored = sum(counter.values()), []
        for term, count in counter.items():
            if len(users[cid][term]) >= min_term_users:
                score = (count / size) * math.log(1.0 + grand / max(len(counts), 1) / total[term])
                rest = 1000.0 * (total[term] - count) / (grand - size) if grand - size else 0.0
                scored.append((term, score, 1000.0 * count / size, rest))
        result[cid] = sorted(scored, key=lambda item: (-round(item[1], 12), item[0]))[:n_terms]
    return result


@pytest.mark.parametrize("min_term_users", [0, 1, 3])
def test_distinctive_terms_equal_the_counting_by_loops(min_term_users: int) -> None:
    import random

    rng = random.Random(min_term_users)
    words = ["vote", "ballot", "garden", "tomato", "rose", "senate", "Vote", "don't", "<URL>", "42", "mulch"]
    texts = {
        cid: [
            (f"u{rng.randrange(12)}", " ".join(rng.choice(words) for _ in range(rng.randint(0, 9))))
            for _ in range(rng.randint(0, 40))
        ]
        for cid in (5, -1, 2, 9)
    }
    texts[7] = []  # a cluster without texts still counts towards the mean tokens per cluster
    got = distinctive_terms(texts, 4, min_term_users)
    assert got == _terms_by_loops(texts, 4, min_term_users)
    assert list(got) == [5, -1, 2, 9, 7] and got[7] == [] and any(got.values())


def test_term_counting_handles_millions_of_clusters() -> None:
    """Cluster indices past 2**21, with few words and users: the (cluster, term) keys stay exact."""
    from blueprint_assets.lib.personas.card_terms import Couples, Tokens, term_scores

    clusters = 2**21
    tokens = Tokens(np.array([3, 3, 0]), np.array([0, 1, 2]), ["w0", "w1", "w2", "w3"])
    couples = Couples.of(tokens, np.array([0, 1, 2]))  # text i by user i
    # Two users say w3 in the last cluster, one says w0 in the first.
    scored = term_scores(
        couples, tokens.vocabulary, np.array([clusters - 1, clusters - 1, 0]), list(range(clusters)), 5, 2
    )
    assert {cid: [t[0] for t in terms] for cid, terms in scored.items() if terms} == {clusters - 1: ["w3"]}
    assert couples.tokens.tolist() == [1, 1, 1] and couples.term.tolist() == [0, 3, 3]


def test_tokens_coded_by_forked_workers_equal_one_pass() -> None:
    """Each worker codes its share into its own vocabulary; merged, every code is the one-pass code."""
    import random

    from blueprint_assets.lib.personas.card_terms import Tokens

    rng = random.Random(7)
    words = ["vote", "ballot", "garden", "tomato", "rose", "senate", "don't", "mulch", "ünïcode", "<URL>"]
    # Words first seen late (only in the last texts) must get codes after every earlier word.
    texts = [
        " ".join(rng.choice(words[: 3 + i // 300]) for _ in range(rng.randint(0, 8))) for i in range(2_400)
    ]
    one, forked = Tokens.of_texts(texts, 1), Tokens.of_texts(texts, 2)
    assert forked.vocabulary == one.vocabulary and len(one.vocabulary) > 6
    assert forked.codes.tolist() == one.codes.tolist() and forked.text.tolist() == one.text.tolist()
    assert [one.vocabulary[c] for c in one.codes[one.text == 5].tolist()] == tokenize(texts[5])


def _nearest_by_full_sort(posts, vectors, centroid, n):
    """The nearest posts as first written: every post sorted by (-similarity to 9 places, record id, text)."""
    c = np.asarray(centroid, dtype=np.float64)
    c = c / max(float(np.linalg.norm(c)), 1e-12)
    scored = []
    for record_id, text in posts:
        v = np.asarray(vectors[record_id], dtype=np.float64)
        scored.append((-round(float(v @ c / max(float(np.linalg.norm(v)), 1e-12)), 9), record_id, text))
    chosen, seen = [], set()
    for neg_sim, _, text in sorted(scored):
        key = " ".join(text.split()).lower()
        if key not in seen:
            seen.add(key)
            chosen.append((text, -neg_sim))
        if len(chosen) == n:
            break
    return chosen


@pytest.mark.parametrize("seed", range(6))
def test_representative_posts_order_ties_by_record_id_as_a_full_sort(seed: int) -> None:
    """Posts tied on similarity (same vector, or apart by less than the 9 places kept) come by record id,
    and a text already quoted (up to case and spaces) is skipped: as a sort of every post would give."""
    import random

    from blueprint_assets.lib.personas.cards import CardInputs, representative_posts

    rng = random.Random(seed)
    base = [np.array([1.0, 0.0, 0.0]), np.array([0.6, 0.8, 0.0]), np.array([0.0, 0.0, 1.0])]
    rows, vectors = [], {}
    for i in range(60):
        record_id = f"r{rng.randrange(10**6):06d}"
        vector = base[rng.randrange(3)] + (rng.choice([0.0, 1e-12, 1e-3]) * np.array([0.0, 1.0, 0.0]))
        text = rng.choice(["Same text", "same   TEXT", f"post {i}", f"other {i % 7}"])
        rows.append({"actor": "u", "action": "post", "text": text, "record_id": record_id})
        vectors[record_id] = vector
    inputs = CardInputs.read(rows, rows, vectors)
    everyone = np.arange(len(inputs.authored))
    for n in (1, 3, 8):
        centroid = base[rng.randrange(3)]
        got = representative_posts(inputs, everyone, centroid, n)
        posts = [(record_id, text) for _, record_id, text in inputs.authored]
        assert got == _nearest_by_full_sort(posts, {r: vectors[r] for r, _ in posts}, centroid, n)
        assert len(got) == n


def test_representative_posts_keep_each_posts_own_similarity_and_n_zero_chooses_none() -> None:
    """Two posts a hair either side of orthogonal tie (0.0 == -0.0) but print as 0.000 and -0.000."""
    from blueprint_assets.lib.personas.cards import CardInputs, representative_posts

    vectors = {"r1": np.array([1e-12, 1.0, 0.0]), "r2": np.array([-1e-12, 1.0, 0.0])}
    rows = [{"actor": "u", "action": "post", "text": f"text {r}", "record_id": r} for r in ("r2", "r1")]
    inputs = CardInputs.read(rows, rows, vectors)
    everyone = np.arange(len(inputs.authored))
    got = representative_posts(inputs, everyone, np.array([1.0, 0.0, 0.0]), 2)
    posts = [(record_id, text) for _, record_id, text in inputs.authored]
    assert got == _nearest_by_full_sort(posts, vectors, np.array([1.0, 0.0, 0.0]), 2)
    assert [f"{sim:.3f}" for _, sim in got] == ["0.000", "-0.000"]
    assert representative_posts(inputs, everyone, np.array([1.0, 0.0, 0.0]), 0) == []
