"""The words of persona cards: tokenizing anonymized posts and their most distinctive terms per cluster.

Terms are ranked by class-based TF-IDF (BERTopic's c-TF-IDF) of a cluster against the whole population,
over anonymized text with placeholders, stopwords and numbers removed. Texts are tokenized by forked
workers into one vocabulary (`Tokens.of_texts`) and kept as distinct (word, user) couples (`Couples`):
since a user is in one cluster, each clustering's counts come from the couples with numpy (`term_scores`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from blueprint_assets.lib.parallel import forked_map

PLACEHOLDER_RE = re.compile(r"<[A-Z][A-Z_]*>")
# Letter-only words (any script), with an optional apostrophe suffix ("don't"); digits never count.
TOKEN_RE = re.compile(r"[^\W\d_]{2,}(?:'[^\W\d_]+)?")
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


class Codes(NamedTuple):
    """A column as the index of each value into its distinct values, in order of first appearance."""

    codes: np.ndarray
    names: list[Any]

    @classmethod
    def of(cls, values: list[Any]) -> Codes:
        index: dict[Any, int] = {}  # any hashable value, None included, as the rows hold it
        codes = np.fromiter((index.setdefault(v, len(index)) for v in values), np.int64, len(values))
        return cls(codes, list(index))


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
    tokens = Tokens.of_texts([text for _, _, text in pairs])
    # A user may write in several clusters: each (cluster, user) is a user of its own, in one cluster.
    members = Codes.of([(index, user) for index, user, _ in pairs])
    cluster_of_member = np.fromiter((index for index, _ in members.names), np.int64, len(members.names))
    couples = Couples.of(tokens, members.codes)
    return term_scores(couples, tokens.vocabulary, cluster_of_member, cids, n_terms, min_term_users)


class Tokens(NamedTuple):
    """The tokens of many texts as codes into one vocabulary, with the text each token is from."""

    codes: np.ndarray
    text: np.ndarray
    vocabulary: list[str]

    @classmethod
    def of_texts(cls, texts: list[str], workers: int = 1) -> Tokens:
        """The tokens of `texts` (`tokenize`), coded by `workers` forked processes: each codes its contiguous
        share into its own vocabulary, merged here in order, so each code (a word's first appearance over
        all texts) is what one pass would give."""
        vocabulary: dict[str, int] = {}
        codes, lengths = [], []
        for names, part_codes, part_lengths in forked_map(_coded_tokens, texts, workers):
            remap = np.fromiter(
                (vocabulary.setdefault(w, len(vocabulary)) for w in names), np.int64, len(names)
            )
            codes.append(remap[part_codes])
            lengths.append(part_lengths)
        # forked_map gives at least one share, an empty one for no texts.
        text_of_token = np.repeat(np.arange(len(texts)), np.concatenate(lengths))
        return cls(np.concatenate(codes), text_of_token, list(vocabulary))


def _coded_tokens(texts: list[str]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(vocabulary in order of first appearance, the code of each token, the tokens of each text) of the
    texts' `tokenize`: a worker's share of `Tokens.of_texts`."""
    token_lists = [tokenize(text) for text in texts]
    words = Codes.of([token for tokens in token_lists for token in tokens])
    lengths = np.fromiter((len(tokens) for tokens in token_lists), np.int64, len(token_lists))
    return words.names, words.codes, lengths


class Couples(NamedTuple):
    """The distinct (term, user) couples of many texts' tokens, with the tokens of each: all the term counts
    of a clustering need, since each user is in one cluster (the Ks of a release share them)."""

    term: np.ndarray
    user: np.ndarray
    tokens: np.ndarray

    @classmethod
    def of(cls, tokens: Tokens, user_of_text: np.ndarray) -> Couples:
        # term x users stays far below 2**63: both count things held in memory (words, authors).
        people = int(user_of_text.max(initial=0)) + 1
        keys = np.sort(tokens.codes * people + user_of_text[tokens.text])
        starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1]))) if len(keys) else keys
        distinct = keys[starts]
        return cls(distinct // people, distinct % people, np.diff(np.append(starts, len(keys))))


def term_scores(
    couples: Couples, vocabulary: list[str], cluster_of_user: np.ndarray, cids: list[int],
    n_terms: int, min_term_users: int,
) -> dict[int, list[tuple[str, float, float, float]]]:  # fmt: skip
    """`distinctive_terms` of (term, user) couples: each user's cluster (an index into `cids`, -1: none).
    Tokens and users per (cluster, term) are counted with numpy over the couples; only the pairs used by
    enough users are scored, in Python, with the same float operations as ever."""
    cluster = cluster_of_user[couples.user]
    kept = cluster >= 0
    cluster, term, weight = cluster[kept], couples.term[kept], couples.tokens[kept]
    words = len(vocabulary)
    pairs, pair_of_couple = np.unique(cluster * words + term, return_inverse=True)
    # Token counts are sums of small integers, exact in float64 far past any window.
    counts = np.bincount(pair_of_couple, weights=weight, minlength=len(pairs)).astype(np.int64)
    users_per_pair = np.bincount(pair_of_couple, minlength=len(pairs))  # each couple is one user
    total = np.bincount(term, weights=weight, minlength=words).astype(np.int64).tolist()
    sizes = np.bincount(cluster, weights=weight, minlength=len(cids)).astype(np.int64).tolist()
    grand = sum(sizes)
    avg_tokens = grand / max(len(cids), 1)
    scored: list[list[tuple[str, float, float, float]]] = [[] for _ in cids]
    used = users_per_pair >= min_term_users
    for pair, count in zip(pairs[used].tolist(), counts[used].tolist(), strict=True):
        index, code = divmod(pair, words)
        size, rest = sizes[index], grand - sizes[index]
        score = (count / size) * math.log(1.0 + avg_tokens / total[code])
        rest_rate = 1000.0 * (total[code] - count) / rest if rest else 0.0
        scored[index].append((vocabulary[code], score, 1000.0 * count / size, rest_rate))
    for terms in scored:
        terms.sort(key=lambda item: (-round(item[1], 12), item[0]))
    return {cid: terms[:n_terms] for cid, terms in zip(cids, scored, strict=True)}
