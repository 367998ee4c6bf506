"""Constant data of the sample generator apart from the personas (those are in `vocabulary_topics`).

Time units, the record marker, the mix of event categories, malformed-line reasons, the English and foreign
sentence templates, emoji, first names for handles, edit suffixes, and the fake PII planted in post text.
"""

from __future__ import annotations

DEFAULT_EVENTS_PER_USER_DAY = 8.0
HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US
SYNTHETIC_MARKER = "blueprintSynthetic"  # a record field real Bluesky records never carry

# Event categories and their weights (per 100 events). Likes dominate the 13 actions (~51% of them).
CATEGORY_WEIGHTS: tuple[tuple[str, float], ...] = (
    ("like", 48.0),
    ("repost", 12.0),
    ("post", 10.5),
    ("reply", 9.5),
    ("follow", 5.5),
    ("quote", 2.5),
    ("unlike", 1.8),
    ("unfollow", 0.9),
    ("post_delete", 0.9),
    ("unrepost", 0.8),
    ("block", 0.6),
    ("post_update", 0.4),
    ("unblock", 0.25),
    ("identity", 0.5),
    ("account", 0.3),
    ("other_bsky", 2.5),
    ("other_app", 2.0),
)
UNDO = {
    "unlike": ("app.bsky.feed.like", "like"),
    "unrepost": ("app.bsky.feed.repost", "repost"),
    "unfollow": ("app.bsky.graph.follow", "follow"),
    "unblock": ("app.bsky.graph.block", "block"),
}
MALFORMED_REASONS = ("truncated", "not_json", "not_object", "missing_did", "missing_time_us", "bad_time_us")

EN_TEMPLATES = (
    "Can't stop thinking about {a} today, especially {b}.",
    "Hot take: {a} matters more than {b}.",
    "Spent the whole evening reading about {a}, and honestly {b} deserves more attention.",
    "Anyone else following {a}? The part about {b} is wild.",
    "New thread on {a}, and what most people get wrong about {b}.",
    "Reminder that {a} is not the same thing as {b}.",
    "Three things I learned this week about {a}: patience, luck, and {b}.",
    "If you only read one thing today, make it this piece on {a} and {b}.",
    "Unpopular opinion: {a} is overrated, but {b} is underrated.",
    "Still processing {a}. Will write more about {b} later.",
    "Quick update on {a}: it went better than expected, {b} next.",
    "The conversation around {a} keeps ignoring {b}.",
    "Today's mood: {a}, coffee, and way too much {b}.",
    "Been asked a lot about {a} lately, so here is my take on {b}.",
)
EN_REPLY_OPENERS = (
    "Totally agree, {a} is the key here.",
    "Not sure about that, {a} seems more complicated.",
    "This! Especially the bit about {a}.",
    "Good point, but what about {a}?",
    "Thanks for sharing, I had no idea about {a}.",
    "Respectfully, I think {a} changes the picture.",
)
EN_OPENERS = (
    "",
    "",
    "",
    "Okay, ",
    "Honestly, ",
    "Morning all! ",
    "Thread: ",
    "PSA: ",
    "Big news: ",
    "Ugh. ",
)
EN_CLOSERS = ("", "", " Thoughts?", " More soon.", " What do you all think?", " Let's talk.", " Wild times.")
FOREIGN_TEMPLATES: dict[str, tuple[str, ...]] = {
    "de": (
        "Ich denke heute viel über {a} nach, vor allem über {b}.",
        "Ehrlich gesagt ist {a} wichtiger als {b}.",
        "Neuer Thread zu {a} und warum {b} oft übersehen wird.",
        "Kurzes Update zu {a}: besser als erwartet, als Nächstes {b}.",
    ),
    "es": (
        "Hoy no dejo de pensar en {a}, sobre todo en {b}.",
        "Opinión impopular: {a} importa más que {b}.",
        "Nuevo hilo sobre {a} y lo que casi nadie entiende de {b}.",
        "¿Alguien más sigue lo de {a}? Lo de {b} es increíble.",
    ),
    "fr": (
        "Je pense beaucoup à {a} aujourd'hui, surtout à {b}.",
        "Avis impopulaire : {a} compte plus que {b}.",
        "Nouveau fil sur {a} et ce qu'on oublie souvent à propos de {b}.",
        "Petite mise à jour sur {a} : mieux que prévu, ensuite {b}.",
    ),
    "ja": (
        "今日は{a}のことばかり考えている。特に{b}について。",
        "正直、{a}は{b}より大事だと思う。",
        "{a}についての新しいスレッド。{b}のことも書きます。",
        "{a}の話、{b}の部分がすごい。",
    ),
    "pt": (
        "Hoje não paro de pensar em {a}, principalmente em {b}.",
        "Opinião impopular: {a} importa mais do que {b}.",
        "Novo fio sobre {a} e o que todo mundo esquece sobre {b}.",
        "Alguém mais acompanhando {a}? A parte de {b} é incrível.",
    ),
}
FOREIGN_LANGS = tuple(FOREIGN_TEMPLATES)
NON_ENGLISH_USER_SHARE = 0.17
EMOJI = ("🔥", "😂", "🎉", "✨", "🌱", "🙏", "💙", "🤔", "😬", "🦋", "☕", "📚", "👩\u200d🔬", "🇪🇺")
FIRST_NAMES = (
    "mara",
    "jonas",
    "ines",
    "tariq",
    "lena",
    "omar",
    "sofia",
    "kenji",
    "amara",
    "felix",
    "nadia",
    "pedro",
    "yuki",
    "elena",
    "sam",
    "priya",
    "lucas",
    "hana",
    "noor",
    "theo",
)
EDIT_SUFFIXES = (" (edit: typo)", " [edited]", " (updated)", " — edit: added context")

# PII planted in text. Phone numbers are fictional ranges, cards are published test numbers (Luhn-valid), BTC
# addresses are well-known examples with valid checksums, IPs are RFC 5737 / RFC 3849 documentation ranges.
PHONES = (
    "(202) 555-0{n:03d}",
    "+1 415-555-0{n:03d}",
    "+44 20 7946 0{n:03d}",
    "+49 30 901820{d}",
    "+33 1 42 68 5{d} {d}{d}",
    "+34 912 345 6{d}{d}",
)
CARDS = (
    "4111 1111 1111 1111",
    "5555-5555-5555-4444",
    "4012888888881881",
    "378282246310005",
    "6011111111111117",
)
BTC = ("1BoatSLRHtKNngkdXEeobR76b53LETtpyT", "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy")
PII_TEMPLATES: dict[str, tuple[str, ...]] = {
    "EMAIL_ADDRESS": ("Email me at {v} if you want the notes.", "DMs are broken, write to {v} instead."),
    "PHONE_NUMBER": ("Call me on {v} after six.", "The office number is {v} if anyone needs it."),
    "URL": ("Full write-up here: {v}", "Source: {v}"),
    "IP_ADDRESS": ("My home server at {v} keeps dropping.", "Blocked {v} from the forum again."),
    "CREDIT_CARD": ("Lol my card {v} got declined at the bakery.", "Test card {v} works on the demo shop."),
    "CRYPTO": ("Tips welcome: {v}", "Donations to {v} please."),
    "IBAN_CODE": ("Fundraiser account IBAN {v}, thank you!", "Send the deposit to {v}."),
    "USERNAME": ("Shout out to {v} for the help.", "Ask {v}, they know this stuff."),
    "DID": ("My new account is {v} by the way.", "Moved to {v}, please follow."),
    "AT_URI": ("Pinned thread: {v}", "See {v} for the backstory."),
}

PII_KINDS: tuple[str, ...] = tuple(PII_TEMPLATES)
