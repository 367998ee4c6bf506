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


import phonenumbers  # noqa: E402
import regex  # noqa: E402
import spacy  # noqa: E402
import tldextract  # noqa: E402
from presidio_analyzer import (  # noqa: E402
    AnalyzerEngine,
    Pattern,
    PatternRecognizer,
    RecognizerRegistry,
    RecognizerResult,
)
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

from blueprint_assets.lib.privacy.identifiers import (  # noqa: E402
    AT_URI_REGEX,
    BARE_AT_WORDS,
    BARE_HANDLE_REGEX,
    BRACKETED_AT_REGEX,
    CODE_LIKE_TLDS,
    DID_KEY_REGEX,
    DID_PLC_REGEX,
    DID_WEB_REGEX,
    EMAIL_OBFUSCATED_REGEX,
    EMAIL_STOP_WORDS,
    ETH_ADDRESS_REGEX,
    FEDIVERSE_HANDLE_REGEX,
    HANDLE_REGEX,
    URL_HOST_REGEX,
    URL_IPV6_REGEX,
    URL_SCHEME_REGEX,
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
PHONE_REGIONS: tuple[str, ...] = (*PhoneRecognizer.DEFAULT_SUPPORTED_REGIONS, "AU")

_LOCAL_HAS_ALNUM = regex.compile(r"[\p{L}\p{N}]")
_OBF_NORMALIZE = regex.compile(
    r"\s*[\[({<]\s*(at|@|dot|\.)\s*[\])}>]\s*|\s+(at|dot|underscore|dash|hyphen|plus)\s+", regex.IGNORECASE
)
_OBF_SYMBOL = {"at": "@", "@": "@", "dot": ".", ".": ".", "underscore": "_", "dash": "-", "hyphen": "-",
               "plus": "+"}  # fmt: skip


def normalize_obfuscated_email(text: str) -> str:
    """'john dot doe at gmail dot com' -> 'john.doe@gmail.com' (brackets and spelled-out words undone)."""
    return _OBF_NORMALIZE.sub(lambda m: _OBF_SYMBOL[(m.group(1) or m.group(2)).lower()], text)


def _spelled_out_at(pattern_text: str) -> tuple[str, str] | None:
    """(word before, word after) a spelled-out ' at ', or None when the text uses '@' or '[at]'."""
    match = regex.search(r"(\S+)\s+at\s+(\S+?)(?:\s|\.|$)", pattern_text, regex.IGNORECASE)
    if (
        match is None
        or "@" in pattern_text
        or regex.search(BRACKETED_AT_REGEX, pattern_text, regex.IGNORECASE)
    ):
        return None
    return match.group(1).lower(), match.group(2).lower()


class FixedPatternRecognizer(PatternRecognizer):
    """A recognizer of fixed patterns, named after its class: subclasses set `ENTITY`, `PATTERNS` and
    `CONTEXT` as class attributes, the way presidio's predefined recognizers do."""

    ENTITY: str = ""
    PATTERNS: tuple[Pattern, ...] = ()
    CONTEXT: tuple[str, ...] = ()

    def __init__(self) -> None:
        super().__init__(
            supported_entity=self.ENTITY,
            patterns=list(self.PATTERNS),
            context=list(self.CONTEXT) or None,
            name=type(self).__name__,
        )


class BlueskyHandleRecognizer(FixedPatternRecognizer):
    """`@handle.bsky.social`, custom-domain handles (`@name.example.org`), fediverse `@name@host.tld` and
    quoted Twitter/X `@name` (unless the word after '@' is in `BARE_AT_WORDS`)."""

    ENTITY = "USERNAME"
    PATTERNS = (
        Pattern("bluesky_handle", HANDLE_REGEX, 0.85),
        Pattern("fediverse_handle", FEDIVERSE_HANDLE_REGEX, 0.85),
        Pattern("bare_handle", BARE_HANDLE_REGEX, 0.6),
    )
    CONTEXT = ("handle", "follow", "@")

    def validate_result(self, pattern_text: str) -> bool | None:
        if "." in pattern_text:
            return None
        return pattern_text[1:].lower() not in BARE_AT_WORDS


class DidRecognizer(FixedPatternRecognizer):
    """Decentralized identifiers: `did:plc:<24 base32 chars>`, `did:web:<host>` and `did:key:z<base58>`."""

    ENTITY = "DID"
    PATTERNS = (
        Pattern("did_plc", DID_PLC_REGEX, 0.95),
        Pattern("did_web", DID_WEB_REGEX, 0.9),
        Pattern("did_key", DID_KEY_REGEX, 0.9),
    )


class AtUriRecognizer(FixedPatternRecognizer):
    """`at://<did or handle>/<collection>/<rkey>` record URIs."""

    ENTITY = "AT_URI"
    PATTERNS = (Pattern("at_uri", AT_URI_REGEX, 0.95),)


class ProjectUrlRecognizer(FixedPatternRecognizer):
    """URLs: any `http(s)://` or `ftp://` link, and scheme-less `host.tld[/path]` with presidio's TLD list.

    Differs from presidio's `UrlRecognizer` on purpose: a right boundary after the TLD (presidio turns
    `bob.smith` into `<URL>ith`), no quoted-URL patterns (they swallowed the quotes), trailing sentence
    punctuation is not part of the URL, and scheme URLs with any TLD are found.
    """

    ENTITY = "URL"
    PATTERNS = (
        Pattern("scheme_url", URL_SCHEME_REGEX, 0.6),
        Pattern("ipv6_url", URL_IPV6_REGEX, 0.6),
        Pattern("host_url", URL_HOST_REGEX, 0.5),
    )
    CONTEXT = tuple(UrlRecognizer.CONTEXT)

    def validate_result(self, pattern_text: str) -> bool | None:
        """Reject scheme-less `name.ext` file names / code attributes (`CODE_LIKE_TLDS`) and a missing space
        after a full stop (`fun.Love`, `M.Sc`: a Title-case TLD after a label that is not Title-case)."""
        if "://" in pattern_text or "/" in pattern_text:
            return None
        labels = pattern_text.split(":", 1)[0].split(".")
        tld = labels[-1]
        if len(labels) == 2 and tld.lower() in CODE_LIKE_TLDS:
            return False
        if len(tld) > 1 and tld[0].isupper() and tld[1:].islower():
            before = labels[-2]
            if not (len(before) > 1 and before[0].isupper() and before[1:].islower()):
                return False
        return None


class ProjectEmailRecognizer(EmailRecognizer):
    """Presidio's email regex plus obfuscated forms; both validated against the public suffix snapshot."""

    def __init__(self) -> None:
        patterns = [*EmailRecognizer.PATTERNS, Pattern("Email (obfuscated)", EMAIL_OBFUSCATED_REGEX, 0.5)]
        super().__init__(patterns=patterns, name="ProjectEmailRecognizer")

    def validate_result(self, pattern_text: str) -> bool:
        """Accept when the local part has a letter or digit (presidio's \\w also takes an emoji's variation
        selector), the domain part has a registrable suffix (after undoing '[at]', ' dot ', ...), and a
        spelled-out ' at ' is not English (`EMAIL_STOP_WORDS` on either side)."""
        words = _spelled_out_at(pattern_text)
        if words is not None and (words[0] in EMAIL_STOP_WORDS or words[1] in EMAIL_STOP_WORDS):
            return False
        local, _, domain = normalize_obfuscated_email(pattern_text).rpartition("@")
        if _LOCAL_HAS_ALNUM.search(local) is None:
            return False
        return tldextract.extract(domain).fqdn != ""


# Words right before a number that make it a version or a book number, not a phone number or an address.
_NOT_A_NUMBER_CUE = regex.compile(
    r"(?:\bisbn(?:-?1[03])?|\bv|\bversion|\bver\.?|\bbuild|\bpatch|\bfirmware|\brelease|\bchrome|\bedge"
    r"|\bfirefox|\bsafari|\bopera|\bbrave|\bandroid|\bios|\bmacos|\bwindows|\bkernel|\bupdate[ds]?(?:\s+to)?"
    r"|\bsection|\bchapter|\blecture|\bstep|\brule|\bclause|\barticle|\bitem)[\s:#=]*$",
    regex.IGNORECASE,
)
_PLUS_NUMBER = regex.compile(r"(?<![\w+])\+[1-9][\d \-.()]{5,18}\d(?![\d\-])")


def _cued_as_not_pii(text: str, start: int) -> bool:
    return _NOT_A_NUMBER_CUE.search(text[max(0, start - 24) : start]) is not None


class ProjectPhoneRecognizer(PhoneRecognizer):
    """Presidio's phone recognizer with phonenumbers' STRICT_GROUPING (digits grouped as the country writes
    them, so '122.0.6261.94', '0-306-40615-2' and '2023-001234' are not numbers), no hit right after an
    ISBN/version cue, and '+<country code>' numbers of a possible length even where the plan says invalid."""

    def __init__(self) -> None:
        super().__init__(supported_regions=PHONE_REGIONS, leniency=phonenumbers.Leniency.STRICT_GROUPING)

    def analyze(self, text: str, entities, nlp_artifacts=None) -> list[RecognizerResult]:
        results = [
            r for r in super().analyze(text, entities, nlp_artifacts) if not _cued_as_not_pii(text, r.start)
        ]
        for match in _PLUS_NUMBER.finditer(text):
            if any(r.start < match.end() and match.start() < r.end for r in results):
                continue
            try:
                number = phonenumbers.parse(match.group(), None)
            except phonenumbers.NumberParseException:
                continue
            if phonenumbers.is_possible_number(number):
                results.append(RecognizerResult(self.supported_entities[0], match.start(), match.end(), 0.4))
        return results


class ProjectIpRecognizer(IpRecognizer):
    """Presidio's IP recognizer without a bare '::' (Haskell, C++), a dotted quad inside a longer dotted run
    ('1.2.3.4.5.6') or right after a version cue ('Android 14.0.0.118')."""

    def analyze(self, text: str, entities, nlp_artifacts=None) -> list[RecognizerResult]:
        kept = []
        for result in super().analyze(text, entities, nlp_artifacts):
            value = text[result.start : result.end]
            if value.strip(":") == "" or _cued_as_not_pii(text, result.start):
                continue
            if "." in value and (
                regex.match(r"\.\d", text[result.end :]) or text[: result.start].endswith(".")
            ):
                continue
            kept.append(result)
        return kept


def ethereum_recognizer() -> PatternRecognizer:
    """Ethereum/EVM addresses (`0x` + 40 hex digits); presidio's crypto recognizer only knows Bitcoin."""
    eth = Pattern("eth_address", ETH_ADDRESS_REGEX, 0.8)
    return PatternRecognizer(supported_entity="CRYPTO", patterns=[eth], name="EthereumRecognizer")


class ProjectCreditCardRecognizer(CreditCardRecognizer):
    """Presidio's card recognizer plus Mastercard's 2-series (2221-2720), still Luhn-checked."""

    def __init__(self) -> None:
        series2 = r"\b2(?:22[1-9]|2[3-9]\d|[3-6]\d{2}|7[01]\d|720)[- ]?\d{4}[- ]?\d{4}[- ]?\d{4}\b"
        super().__init__(patterns=[*CreditCardRecognizer.PATTERNS, Pattern("mastercard_2", series2, 0.3)])


def build_recognizers() -> list:
    """Fresh instances of every recognizer for `DEFAULT_ENTITIES` (CRYPTO has two: Bitcoin and Ethereum)."""
    return [
        ProjectEmailRecognizer(),
        ProjectPhoneRecognizer(),
        ProjectUrlRecognizer(),
        ProjectIpRecognizer(),
        ProjectCreditCardRecognizer(),
        CryptoRecognizer(),
        ethereum_recognizer(),
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
