"""Presidio recognizers for Bluesky text and an offline presidio `AnalyzerEngine` factory.

Project recognizers: `USERNAME` (Bluesky handles such as `@alice.bsky.social` or `@name.example.org`),
`DID` (`did:plc:...`, `did:web:...`), `AT_URI` (`at://...`), a `URL` recognizer built on presidio's TLD list
(plus scheme URLs with any host, and a right boundary after the TLD so `bob.smith` is not `bob.sm`), and an
`EMAIL_ADDRESS` recognizer that also catches common obfuscations (`bob [at] example [dot] com`).
Presidio's own recognizers cover phone numbers, IP addresses, credit cards, crypto wallets and IBANs.

Everything runs offline: the NLP engine is a blank English spaCy pipeline (tokenizer only) unless NER is
asked for, and tldextract is told not to download the public suffix list (it falls back to its snapshot).
"""

from __future__ import annotations

import os

# Must happen before presidio (and thus tldextract) is imported: an empty URL list makes tldextract use its
# bundled public-suffix snapshot instead of trying the network.
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

import re  # noqa: E402

import regex  # noqa: E402
import spacy  # noqa: E402
import tldextract  # noqa: E402
from presidio_analyzer import AnalyzerEngine, Pattern, PatternRecognizer, RecognizerRegistry  # noqa: E402
from presidio_analyzer.nlp_engine import NlpEngine, SpacyNlpEngine  # noqa: E402
from presidio_analyzer.predefined_recognizers import (  # noqa: E402
    CreditCardRecognizer,
    CryptoRecognizer,
    EmailRecognizer,
    IbanRecognizer,
    IpRecognizer,
    PhoneRecognizer,
    UrlRecognizer,
)

DEFAULT_ENTITIES: tuple[str, ...] = (
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "URL",
    "IP_ADDRESS",
    "CREDIT_CARD",
    "CRYPTO",
    "IBAN_CODE",
    "USERNAME",
    "DID",
    "AT_URI",
)
NER_ENTITIES: tuple[str, ...] = ("PERSON", "LOCATION")
NER_MODELS: tuple[str, ...] = ("en_core_web_lg", "en_core_web_md", "en_core_web_sm", "en_core_web_trf")

# Presidio's default phone regions; '+<country code>' numbers of any country are found regardless of this list
# (the region only matters for numbers written without '+').
PHONE_REGIONS: tuple[str, ...] = tuple(PhoneRecognizer.DEFAULT_SUPPORTED_REGIONS)

# Characters that end a URL-like token. Trailing sentence punctuation is not part of a URL or URI.
# Emoji (\p{So}) and their variation selector / joiner are not URL characters either: Bluesky posts glue
# them to links. Balanced parentheses are allowed inside a path (Wikipedia-style `a_(b)`).
_URL_CHAR = r"(?:[^\s()<>\"'\[\]{}\p{So}\ufe0f\u200d]|\([^\s()<>\"']*\))"
_URL_TAIL = r"(?:[^\s()<>\"'\[\]{}.,;:!?…\p{So}\ufe0f\u200d]|\([^\s()<>\"']*\))"

_DNS_LABEL = r"[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?"
# A handle: '@' not preceded by a word char (that would be an email), at least two labels, and a TLD that
# starts with a letter (atproto handle syntax), so '@v1.2', '@3.50' and '@word' are not handles.
HANDLE_REGEX = rf"(?<![\p{{L}}\p{{N}}_@.+\-/])@(?:{_DNS_LABEL}\.)+[a-z](?:[a-z0-9\-]{{0,61}}[a-z0-9])?(?![\w\-]|\.[a-z0-9])"
DID_PLC_REGEX = r"(?<![\w])did:plc:[a-z2-7]{24}(?![a-z0-9])"
# did:web host, optional percent-encoded port, optional ':'-separated path segments.
DID_WEB_REGEX = rf"(?<![\w])did:web:{_DNS_LABEL}(?:\.{_DNS_LABEL})*(?:%3a\d+)?(?::[a-z0-9._\-]*[a-z0-9])*"
AT_URI_REGEX = rf"(?<![\w])at://{_URL_CHAR}*{_URL_TAIL}"


def _presidio_tlds() -> list[str]:
    """The TLD list inside presidio's URL regex, longest first so the alternation prefers full TLDs."""
    tlds = set(re.findall(r"\(\?:([a-z]+)\)", UrlRecognizer.BASE_URL_REGEX))
    return sorted(tlds, key=lambda tld: (-len(tld), tld))


_TLD_ALTERNATION = "|".join(_presidio_tlds())
_PATH = rf"(?:[/?#](?:{_URL_CHAR}*{_URL_TAIL})?)?"
URL_SCHEME_REGEX = rf"(?<![\w])(?:https?|ftp)://{_URL_CHAR}*{_URL_TAIL}"
URL_HOST_REGEX = (
    rf"(?<![\w.\-@])(?:www\d{{0,3}}\.)?(?:{_DNS_LABEL}\.)+(?:{_TLD_ALTERNATION})(?![a-z0-9\-])"
    rf"(?::\d{{2,5}})?{_PATH}"
)

_OBF_AT = r"(?:\s*[\[({<]\s*at\s*[\])}>]\s*|\s+at\s+)"
_OBF_DOT = r"(?:\s*[\[({<]\s*dot\s*[\])}>]\s*|\s+dot\s+|\.)"
# 'bob [at] example [dot] com', 'bob(at)example(dot)org', 'bob at example dot com'. The plain-word form
# (' at ', ' dot ') needs a known TLD at the end, so 'meet me at noon dot' does not match.
EMAIL_OBFUSCATED_REGEX = (
    rf"(?<![\w.])[\w][\w.+\-]*{_OBF_AT}{_DNS_LABEL}(?:{_OBF_DOT}{_DNS_LABEL})*"
    rf"(?:\s*[\[({{<]\s*dot\s*[\])}}>]\s*|\s+dot\s+)(?:{_TLD_ALTERNATION})(?![\w\-])"
)
_LOCAL_HAS_ALNUM = regex.compile(r"[\p{L}\p{N}]")
_OBF_NORMALIZE = regex.compile(r"\s*[\[({<]\s*(at|dot)\s*[\])}>]\s*|\s+(at|dot)\s+", regex.IGNORECASE)


class BlueskyHandleRecognizer(PatternRecognizer):
    """`@handle.bsky.social` and custom-domain handles (`@name.example.org`)."""

    def __init__(self) -> None:
        super().__init__(
            supported_entity="USERNAME",
            patterns=[Pattern("bluesky_handle", HANDLE_REGEX, 0.85)],
            context=["handle", "follow", "@"],
            name="BlueskyHandleRecognizer",
        )


class DidRecognizer(PatternRecognizer):
    """AT Protocol decentralized identifiers: `did:plc:<24 base32 chars>` and `did:web:<host>`."""

    def __init__(self) -> None:
        super().__init__(
            supported_entity="DID",
            patterns=[Pattern("did_plc", DID_PLC_REGEX, 0.95), Pattern("did_web", DID_WEB_REGEX, 0.9)],
            name="DidRecognizer",
        )


class AtUriRecognizer(PatternRecognizer):
    """`at://<did or handle>/<collection>/<rkey>` record URIs."""

    def __init__(self) -> None:
        super().__init__(
            supported_entity="AT_URI",
            patterns=[Pattern("at_uri", AT_URI_REGEX, 0.95)],
            name="AtUriRecognizer",
        )


class ProjectUrlRecognizer(PatternRecognizer):
    """URLs: any `http(s)://` or `ftp://` link, and scheme-less `host.tld[/path]` with presidio's TLD list.

    Differs from presidio's `UrlRecognizer` on purpose: a right boundary after the TLD (presidio turns
    `bob.smith` into `<URL>ith`), no quoted-URL patterns (they swallowed the quotes), trailing sentence
    punctuation is not part of the URL, and scheme URLs with any TLD are found.
    """

    def __init__(self) -> None:
        super().__init__(
            supported_entity="URL",
            patterns=[Pattern("scheme_url", URL_SCHEME_REGEX, 0.6), Pattern("host_url", URL_HOST_REGEX, 0.5)],
            context=list(UrlRecognizer.CONTEXT),
            name="ProjectUrlRecognizer",
        )


class ProjectEmailRecognizer(EmailRecognizer):
    """Presidio's email regex plus obfuscated forms; both validated against the public suffix snapshot."""

    def __init__(self) -> None:
        patterns = [*EmailRecognizer.PATTERNS, Pattern("Email (obfuscated)", EMAIL_OBFUSCATED_REGEX, 0.5)]
        super().__init__(patterns=patterns, name="ProjectEmailRecognizer")

    def validate_result(self, pattern_text: str) -> bool:
        """Accept when the local part has a letter or digit (presidio's \\w also takes an emoji's variation
        selector) and the domain part has a registrable suffix (after undoing '[at]'/'[dot]')."""
        normalized = _OBF_NORMALIZE.sub(
            lambda m: "@" if (m.group(1) or m.group(2)).lower() == "at" else ".", pattern_text
        )
        local, _, domain = normalized.rpartition("@")
        if _LOCAL_HAS_ALNUM.search(local) is None:
            return False
        return tldextract.extract(domain).fqdn != ""


def build_recognizers() -> list:
    """Fresh instances of every recognizer for `DEFAULT_ENTITIES` (one per entity type)."""
    return [
        ProjectEmailRecognizer(),
        PhoneRecognizer(supported_regions=PHONE_REGIONS),
        ProjectUrlRecognizer(),
        IpRecognizer(),
        CreditCardRecognizer(),
        CryptoRecognizer(),
        IbanRecognizer(),
        BlueskyHandleRecognizer(),
        DidRecognizer(),
        AtUriRecognizer(),
    ]


def installed_ner_model() -> str | None:
    """Name of the first installed English spaCy model with NER, or None."""
    for name in NER_MODELS:
        if spacy.util.is_package(name):
            return name
    return None


def build_nlp_engine(ner: bool = False) -> NlpEngine:
    """An offline presidio NLP engine: blank English spaCy (tokenizer only), or an installed NER model.

    `SpacyNlpEngine.load()` would download a missing model; we never call it for the blank pipeline and,
    for NER, only after checking the model is installed.
    """
    if ner:
        model = installed_ner_model()
        if model is None:
            raise RuntimeError(
                "ner=True needs an installed English spaCy model with NER "
                f"(one of {', '.join(NER_MODELS)}); none is installed. Install one or use ner=False."
            )
        engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": model}])
        engine.load()
        return engine
    engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": "blank:en"}])
    engine.nlp = {"en": spacy.blank("en")}
    return engine


def build_analyzer(ner: bool = False) -> AnalyzerEngine:
    """A presidio `AnalyzerEngine` with the project recognizers and an offline NLP engine.

    With `ner=True`, presidio's spaCy recognizer (PERSON, LOCATION, ...) is added on top of a real model.
    """
    nlp_engine = build_nlp_engine(ner)
    registry = RecognizerRegistry(supported_languages=["en"])
    for recognizer in build_recognizers():
        registry.add_recognizer(recognizer)
    if ner:
        from presidio_analyzer.predefined_recognizers import SpacyRecognizer

        registry.add_recognizer(SpacyRecognizer(supported_entities=list(NER_ENTITIES)))
    return AnalyzerEngine(registry=registry, nlp_engine=nlp_engine, supported_languages=["en"])


def entities_for(ner: bool, entities: tuple[str, ...] | list[str] = DEFAULT_ENTITIES) -> list[str]:
    """The entity list to analyze: `entities`, plus PERSON/LOCATION when NER is on."""
    out = list(entities)
    if ner:
        out += [entity for entity in NER_ENTITIES if entity not in out]
    return out
