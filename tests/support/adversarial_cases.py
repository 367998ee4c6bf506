"""The project's labelled PII set, as the tests use it (all values are synthetic).

The cases live in one file, `blueprint_assets/config/pii_labelled_set.jsonl` (package data, so a release
build and `blueprint privacy-eval` read the same set): JSON lines of `{text, pii: [substrings], type,
subtype}`, with `type` "NONE" for look-alikes that must stay untouched. Types follow the anonymizer's
overlap rule (a DID inside a URL is labelled URL). The cases were written as an adversary would, from
the shapes people post, not from the recognizers' regexes.
"""

from __future__ import annotations

from blueprint_assets.lib.privacy.evaluate import SHIPPED_SET, LabelledCase, load_labelled_set

ALL_CASES: list[LabelledCase] = load_labelled_set(SHIPPED_SET)
ALL_POSITIVE = [case for case in ALL_CASES if case.spans]
NEGATIVE_CASES = [case for case in ALL_CASES if not case.spans]


def parse_case(case: LabelledCase) -> tuple[str, list[tuple[int, int, str]]]:
    """(text, [(start, end, TYPE), ...]) in str offsets."""
    return case.text, list(case.spans)
