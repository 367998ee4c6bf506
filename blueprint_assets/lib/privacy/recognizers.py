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

# Characters that end a URL-like token. Trailing sentence punctuation is not part of a URL or URI.
# Emoji (\p{So}) and their variation selector / joiner are not URL characters either: Bluesky posts glue
# them to links. Balanced parentheses are allowed inside a path (Wikipedia-style `a_(b)`).
_URL_CHAR = r"(?:[^\s()<>\"'\[\]{}\p{So}\ufe0f\u200d]|\([^\s()<>\"']*\))"
_URL_TAIL = r"(?:[^\s()<>\"'\[\]{}.,;:!?…\p{So}\ufe0f\u200d]|\([^\s()<>\"']*\))"

_DNS_LABEL = r"[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?"
_IDN_LABEL = r"[\p{L}\p{N}](?:[\p{L}\p{N}\-]{0,61}[\p{L}\p{N}])?"  # internationalized (café-olé.fr)
DID_PLC_REGEX = r"(?<![\w])did:plc:[a-z2-7]{24}(?![a-z0-9])"
# did:key: multibase base58btc ('z' + base58 alphabet); real keys are 46+ characters after the 'z'.
DID_KEY_REGEX = r"(?<![\w])did:key:z[1-9A-HJ-NP-Za-km-z]{40,}(?![\w])"
# Ethereum (and EVM) addresses: '0x' + 40 hex digits, not part of a longer hex run (a hash is not an address).
ETH_ADDRESS_REGEX = r"(?<![\w])0x[0-9a-f]{40}(?![0-9a-z])"
# DIDs as the leak scans and the opt-out rule find them in any text (case-insensitive).
DID_SCAN_REGEX = r"did:(?:plc:[a-z2-7]{24}|web:[a-z0-9.\-]+[a-z0-9]|key:z[1-9a-hj-np-z]{40,})"
# did:web host, optional percent-encoded port, optional ':'-separated path segments.
DID_WEB_REGEX = rf"(?<![\w])did:web:{_DNS_LABEL}(?:\.{_DNS_LABEL})*(?:%3a\d+)?(?::[a-z0-9._\-]*[a-z0-9])*"
# An AT URI's authority is a DID or a handle (which has a dot): 'look at://this' is not one.
AT_URI_REGEX = rf"(?<![\w])at://(?:did:|[^\s/]*\.){_URL_CHAR}*{_URL_TAIL}"


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _presidio_tlds() -> list[str]:
    """The TLD list inside presidio's URL regex, longest first so the alternation prefers full TLDs."""
    tlds = set(re.findall(r"\(\?:([a-z]+)\)", UrlRecognizer.BASE_URL_REGEX))
    return sorted(tlds, key=lambda tld: (-len(tld), tld))


_TLD_ALTERNATION = "|".join(_presidio_tlds())
# A handle: '@' not preceded by a word char (that would be an email), at least two labels, and a known TLD,
# so '@v1.2', '@3.50', '@word' and '@pytest.fixture' are not handles.
HANDLE_REGEX = rf"(?<![\p{{L}}\p{{N}}_@.+\-/])@(?:{_DNS_LABEL}\.)+(?:{_TLD_ALTERNATION})(?![\w\-]|\.[a-z0-9])"
# Fediverse handles '@name@instance.tld' (one entity, not '@' + an email).
FEDIVERSE_HANDLE_REGEX = rf"(?<![\w@.+\-/])@[a-z0-9_.]+@(?:{_DNS_LABEL}\.)+[a-z]{{2,}}(?![\w\-]|\.[a-z0-9])"
# Twitter/X-style '@name' (1-15 of [A-Za-z0-9_], at least one letter) quoted from cross-posts; not followed
# by '.', '/', '-', '@' + more name (a handle, a path, an email) and not a word from `BARE_AT_WORDS`.
BARE_HANDLE_REGEX = r"(?<![\w@.+\-/&])@(?=\w{0,14}[a-z])\w{1,15}(?![\w\-@/]|\.\w)"
# '@word' that is code (decorators, CSS at-rules, doc tags), a group ping, or plain English, not an account.
BARE_AT_WORDS = _words(
    "everyone here channel all home work school me you us them noon night once media import keyframes "
    "font charset supports page namespace layer container override param return returns throws deprecated "
    "since author see link property staticmethod classmethod dataclass abstractmethod cached_property "
    "interface end implementation synthesize input output component injectable todo fixme types angular "
    "apply include mixin extend if else each for while function use tailwind test before after beforeeach aftereach beforeall afterall mock autowired service entity inject suppresswarnings functionalinterface nullable nonnull transactional getter setter builder slf4j jsonproperty deprecated"
)
# Scheme-less 'name.tld' that is a file name or code attribute when it has no path, no subdomain and no
# 'www': these TLDs are also common file extensions ('main.py', 'README.md', 'movie.mov', 'deploy.sh') or
# attribute names ('self.name', 'user.email').
CODE_LIKE_TLDS = _words("py md mov sh rs pl tf cc ml ps so mk pm name email")
_PATH = rf"(?:[/?#](?:{_URL_CHAR}*{_URL_TAIL})?)?"
URL_SCHEME_REGEX = rf"(?<![\w])(?:https?|ftp)://{_URL_CHAR}*{_URL_TAIL}"
URL_HOST_REGEX = (
    rf"(?<![\w.\-@])(?:www\d{{0,3}}\.)?(?:{_IDN_LABEL}\.)+(?:{_TLD_ALTERNATION})(?![\p{{L}}\p{{N}}\-(])"
    rf"(?::\d{{2,5}})?{_PATH}"
)
# A scheme URL whose host is a bracketed IPv6 literal: 'http://[2001:db8::1]:8080/x'.
URL_IPV6_REGEX = rf"(?<![\w])(?:https?|ftp)://\[[0-9a-f:.]+\](?::\d{{2,5}})?{_PATH}"

_BR_AT = r"\s*[\[({<]\s*(?:at|@)\s*[\])}>]\s*"
_BR_DOT = r"\s*[\[({<]\s*(?:dot|\.)\s*[\])}>]\s*"
_ANY_DOT = rf"(?:{_BR_DOT}|\s+dot\s+|\.)"
# A local part, also spelled out: 'john dot doe', 'sam underscore lee'.
_LOCAL = r"[\w][\w.+\-']*(?:\s+(?:dot|underscore|dash|hyphen|plus)\s+[\w][\w.+\-']*)*"
# Obfuscated e-mails: 'bob [at] example [dot] com', 'name[at]domain[.]com', 'erin(at)example(dot)org',
# 'mark [@] example [.] com', 'john dot doe at gmail dot com', and 'bob at example.com'. Each ends in a
# known TLD; the word form is checked against `EMAIL_STOP_WORDS` so 'money at the dot com' is not one.
EMAIL_OBFUSCATED_REGEX = (
    rf"(?<![\w.])(?:[\w][\w.+\-']*{_BR_AT}{_DNS_LABEL}(?:{_ANY_DOT}{_DNS_LABEL})*{_ANY_DOT}"
    rf"|{_LOCAL}\s+at\s+{_DNS_LABEL}(?:{_ANY_DOT}{_DNS_LABEL})*{_ANY_DOT})"
    rf"(?:{_TLD_ALTERNATION})(?![\w\-/])"
)
# Words around a spelled-out ' at ' that make it English, not an address ('lost money at the dot com
# crash', 'I work at example.com', 'name at work dot ...').
EMAIL_STOP_WORDS = _words(
    "the a an my your his her its our their this that these those some any every each no least most all one "
    "work works worked working home school noon night once me him us them it here there look "
    "looking looked meet see find found live lives available sale sold deals tickets details more read "
    "posted streaming watch listen hosted join apply register now out up only"
)
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
    if match is None or "@" in pattern_text or regex.search(_BR_AT, pattern_text, regex.IGNORECASE):
        return None
    return match.group(1).lower(), match.group(2).lower()


class BlueskyHandleRecognizer(PatternRecognizer):
    """`@handle.bsky.social`, custom-domain handles (`@name.example.org`), fediverse `@name@host.tld` and
    quoted Twitter/X `@name` (unless the word after '@' is in `BARE_AT_WORDS`)."""

    def __init__(self) -> None:
        super().__init__(
            supported_entity="USERNAME",
            patterns=[
                Pattern("bluesky_handle", HANDLE_REGEX, 0.85),
                Pattern("fediverse_handle", FEDIVERSE_HANDLE_REGEX, 0.85),
                Pattern("bare_handle", BARE_HANDLE_REGEX, 0.6),
            ],
            context=["handle", "follow", "@"],
            name="BlueskyHandleRecognizer",
        )

    def validate_result(self, pattern_text: str) -> bool | None:
        if "." in pattern_text:
            return None
        return pattern_text[1:].lower() not in BARE_AT_WORDS


class DidRecognizer(PatternRecognizer):
    """Decentralized identifiers: `did:plc:<24 base32 chars>`, `did:web:<host>` and `did:key:z<base58>`."""

    def __init__(self) -> None:
        super().__init__(
            supported_entity="DID",
            patterns=[
                Pattern("did_plc", DID_PLC_REGEX, 0.95),
                Pattern("did_web", DID_WEB_REGEX, 0.9),
                Pattern("did_key", DID_KEY_REGEX, 0.9),
            ],
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
            patterns=[
                Pattern("scheme_url", URL_SCHEME_REGEX, 0.6),
                Pattern("ipv6_url", URL_IPV6_REGEX, 0.6),
                Pattern("host_url", URL_HOST_REGEX, 0.5),
            ],
            context=list(UrlRecognizer.CONTEXT),
            name="ProjectUrlRecognizer",
        )

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
