r"""Every identifier pattern BluePrint knows, in one place: DID, AT URI, handle, e-mail, URL, and the audit's
refusal patterns.

Pure module (no Dagster). Used by the presidio recognizers (`privacy.recognizers`), the leak scans
(`privacy.scans`), the audit renderer's refusal of raw identifiers (`release.audit.model`) and ingestion's
opt-out filter (`ingest.raw_events`, as a DuckDB regex). Each pattern is written once here; the users compile
it with the flags they need. The handle, host-URL and obfuscated e-mail patterns use presidio's TLD list, so
`regex` syntax (`\p{L}`) appears in the recognizer patterns, and they are built on first use so that
importing this module does not import presidio; the scan and audit patterns are plain `re`.
"""

from __future__ import annotations

import os

# Must happen before presidio (and thus tldextract) is imported: an empty URL list makes tldextract use its
# bundled public-suffix snapshot instead of trying the network.
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

import re  # noqa: E402
from functools import cache  # noqa: E402

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
# DIDs as the leak scans and the opt-out rule find them in any text (case-insensitive). A did:key is matched
# over [1-9a-z]: base58 has lower-case i and o but upper-case I and O not, which one case-blind class can't say.
DID_SCAN_REGEX = r"did:(?:plc:[a-z2-7]{24}|web:[a-z0-9.\-]+[a-z0-9]|key:z[1-9a-z]{40,})"
# The same pattern for DuckDB (RE2 takes it as written; `(?i)` as the scans compile it), in ingestion's opt-out
# filter: a line naming an opted-out account in any DID form (did:key too, a did:web before a full stop) goes.
DID_SQL_REGEX = "(?i)" + DID_SCAN_REGEX
# did:web host, optional percent-encoded port, optional ':'-separated path segments.
DID_WEB_REGEX = rf"(?<![\w])did:web:{_DNS_LABEL}(?:\.{_DNS_LABEL})*(?:%3a\d+)?(?::[a-z0-9._\-]*[a-z0-9])*"
# An AT URI's authority is a DID or a handle (which has a dot): 'look at://this' is not one.
AT_URI_REGEX = rf"(?<![\w])at://(?:did:|[^\s/]*\.){_URL_CHAR}*{_URL_TAIL}"


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _presidio_tlds() -> list[str]:
    """The TLD list inside presidio's URL regex, longest first so the alternation prefers full TLDs."""
    from presidio_analyzer.predefined_recognizers import UrlRecognizer

    tlds = set(re.findall(r"\(\?:([a-z]+)\)", UrlRecognizer.BASE_URL_REGEX))
    return sorted(tlds, key=lambda tld: (-len(tld), tld))


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
# A scheme URL whose host is a bracketed IPv6 literal: 'http://[2001:db8::1]:8080/x'.
URL_IPV6_REGEX = rf"(?<![\w])(?:https?|ftp)://\[[0-9a-f:.]+\](?::\d{{2,5}})?{_PATH}"

BRACKETED_AT_REGEX = r"\s*[\[({<]\s*(?:at|@)\s*[\])}>]\s*"
_BR_DOT = r"\s*[\[({<]\s*(?:dot|\.)\s*[\])}>]\s*"
_ANY_DOT = rf"(?:{_BR_DOT}|\s+dot\s+|\.)"
# A local part, also spelled out: 'john dot doe', 'sam underscore lee'.
_LOCAL = r"[\w][\w.+\-']*(?:\s+(?:dot|underscore|dash|hyphen|plus)\s+[\w][\w.+\-']*)*"
# Words around a spelled-out ' at ' that make it English, not an address ('lost money at the dot com
# crash', 'I work at example.com', 'name at work dot ...').
EMAIL_STOP_WORDS = _words(
    "the a an my your his her its our their this that these those some any every each no least most all one "
    "work works worked working home school noon night once me him us them it here there look "
    "looking looked meet see find found live lives available sale sold deals tickets details more read "
    "posted streaming watch listen hosted join apply register now out up only"
)


# ------------------------------------------------------------------- patterns over presidio's TLD list
# Built on first use (the module's __getattr__): reading the TLD list imports presidio, seconds of imports
# that the leak scans, the audit and the opt-out filter, which never use these patterns, should not pay.
_TLD_PATTERN_NAMES = frozenset({"HANDLE_REGEX", "URL_HOST_REGEX", "EMAIL_OBFUSCATED_REGEX"})


@cache
def _tld_patterns() -> dict[str, str]:
    tlds = "|".join(_presidio_tlds())
    return {
        # A handle: '@' not preceded by a word char (that would be an email), at least two labels, and a known TLD,
        # so '@v1.2', '@3.50', '@word' and '@pytest.fixture' are not handles.
        "HANDLE_REGEX": rf"(?<![\p{{L}}\p{{N}}_@.+\-/])@(?:{_DNS_LABEL}\.)+(?:{tlds})(?![\w\-]|\.[a-z0-9])",
        "URL_HOST_REGEX": (
            rf"(?<![\w.\-@])(?:www\d{{0,3}}\.)?(?:{_IDN_LABEL}\.)+(?:{tlds})(?![\p{{L}}\p{{N}}\-(])"
            rf"(?::\d{{2,5}})?{_PATH}"
        ),
        # Obfuscated e-mails: 'bob [at] example [dot] com', 'name[at]domain[.]com', 'erin(at)example(dot)org',
        # 'mark [@] example [.] com', 'john dot doe at gmail dot com', and 'bob at example.com'. Each ends in a
        # known TLD; the word form is checked against `EMAIL_STOP_WORDS` so 'money at the dot com' is not one.
        "EMAIL_OBFUSCATED_REGEX": (
            rf"(?<![\w.])(?:[\w][\w.+\-']*{BRACKETED_AT_REGEX}{_DNS_LABEL}(?:{_ANY_DOT}{_DNS_LABEL})*{_ANY_DOT}"
            rf"|{_LOCAL}\s+at\s+{_DNS_LABEL}(?:{_ANY_DOT}{_DNS_LABEL})*{_ANY_DOT})"
            rf"(?:{tlds})(?![\w\-/])"
        ),
    }


def __getattr__(name: str) -> str:
    if name in _TLD_PATTERN_NAMES:
        return _tld_patterns()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ------------------------------------------------------------------------------------- leak scans
# The leak scans' patterns, compiled case-insensitive in `privacy.scans`; DIDs use `DID_SCAN_REGEX` above.
DOMAIN_REGEX = r"(?:[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?\.)+[a-z][a-z0-9\-]*[a-z0-9]"
SCAN_REGEXES: dict[str, str] = {
    "email": r"(?<![\w.+\-])[\w.+\-]+@[a-z0-9\-]+(?:\.[a-z0-9\-]+)+",
    "url": r"(?:https?|at)://[^\s\"'<>\\]+",
    "mention": rf"(?<![\w@.])@({DOMAIN_REGEX})",
    # On the output side a handle must be found with or without its '@'.
    "bare_domain": rf"(?<![\w\-.])({DOMAIN_REGEX})",
}
# A handle written as an @-mention (group 1, lowercased by its users), as the opt-out rule finds it in any
# text: the same pattern in Python (`involvement.text_handles`) and in DuckDB (ingestion's opt-out filter).
# So no look-behind, which RE2 lacks, and no case-insensitive flag: the two engines fold non-ASCII letters
# differently (Python's [a-z] takes the dotted and dotless i, RE2's not), ASCII classes say both cases alike.
# An e-mail address at the handle's domain counts too: an opt-out errs towards removal.
_HANDLE_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?"
HANDLE_REGEX_ASCII = rf"(?:{_HANDLE_LABEL}\.)+[A-Za-z][A-Za-z0-9\-]*[A-Za-z0-9]"  # a handle, no '@'
MENTIONED_HANDLE_REGEX = rf"@({HANDLE_REGEX_ASCII})"

# ------------------------------------------------------------------------------------ audit refusal
# Patterns for raw identifiers. Each returns a *kind*; callers never see the matched value, so a hit can be
# reported (in logs, exceptions, checks) without leaking the identifier itself.
AUDIT_REFUSAL_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("did", re.compile(r"did:(?:plc|web):", re.IGNORECASE)),
    ("at_uri", re.compile(r"at://", re.IGNORECASE)),
    ("url", re.compile(r"\bhttps?://|\bwww\.[a-z0-9-]", re.IGNORECASE)),
    ("email", re.compile(r"[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}", re.IGNORECASE)),
    # `@x.y` not preceded by an email local part; also bare `*.bsky.social` handles.
    (
        "handle",
        re.compile(r"(?<![\w.@%+-])@[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)+|\b[a-z0-9-]+\.bsky\.social\b", re.I),
    ),
)
ENTITY_TYPE = re.compile(r"^[A-Z][A-Z0-9_]*$")
# Cannot contain "@", ":", "." or "/", so it can never be one of the identifiers above.
SAFE_LABEL = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
# An anonymizer placeholder such as `<EMAIL_ADDRESS>`; group 1 is the entity type.
PLACEHOLDER = re.compile(r"<([A-Z][A-Z0-9_]*)>")
