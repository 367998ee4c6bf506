"""Hand-written adversarial PII cases for the anonymizer (all values are synthetic).

Each case is a text where every span that must be removed is written `[[TYPE:value]]`; `parse_case`
returns the plain text and the expected `(start, end, TYPE)` spans. Cases without markers are look-alikes
that must stay untouched. Types follow the anonymizer's overlap rule (a DID inside a URL is labelled URL).
"""

from __future__ import annotations

import re

_MARK = re.compile(r"\[\[([A-Z_]+):(.+?)\]\]")

EMAIL_CASES = [
    "mail me at [[EMAIL_ADDRESS:alice@example.com]] thanks",
    "[[EMAIL_ADDRESS:first.last+tag@sub.example.co.uk]]",
    "contact: <[[EMAIL_ADDRESS:Bob.Smith@Example.ORG]]>",
    "(reach me: [[EMAIL_ADDRESS:j_doe99@mail.example.net]])",
    "email [[EMAIL_ADDRESS:carol-ann@example.io]]!",
    "write to [[EMAIL_ADDRESS:dave@xn--80ak6aa92e.com]] please",
    "[[EMAIL_ADDRESS:user%list@example.com]], cc [[EMAIL_ADDRESS:ops@example.com]]",
    "send it to [[EMAIL_ADDRESS:bob [at] example [dot] com]] or dm",
    "[[EMAIL_ADDRESS:erin(at)example(dot)org]] is my address",
    "reach me: [[EMAIL_ADDRESS:frank at example dot com]] 📧",
    "[[EMAIL_ADDRESS:grace {at} mail {dot} example {dot} net]]",
    "📧[[EMAIL_ADDRESS:heidi@example.de]]🙏",
    "#contact [[EMAIL_ADDRESS:ivan.petrov@example.ru]] #jobs",
    "my work email is [[EMAIL_ADDRESS:x@example.com]].",
    "apply: [[EMAIL_ADDRESS:jobs@careers.example.com]];deadline friday",
    "[[EMAIL_ADDRESS:ALL.CAPS@EXAMPLE.COM]] shouting",
    "pls email [[EMAIL_ADDRESS:kim [AT] example [DOT] org]] asap",
    "try [[EMAIL_ADDRESS:leo.o'brien@example.ie]] maybe",
    '"[[EMAIL_ADDRESS:mia@example.com]]" (quoted)',
    "newsletter → [[EMAIL_ADDRESS:news@letters.example.com]]",
]

PHONE_CASES = [
    "call me at [[PHONE_NUMBER:(415) 555-0132]] tonight",
    "US: [[PHONE_NUMBER:+1 415-555-0132]]",
    "text [[PHONE_NUMBER:415.555.0199]] anytime",
    "UK office [[PHONE_NUMBER:+44 20 7946 0958]]",
    "london [[PHONE_NUMBER:020 7946 0958]] ask for sam",
    "Berlin: [[PHONE_NUMBER:+49 30 901820]]",
    "ruf an: [[PHONE_NUMBER:030 901820]]",
    "Paris [[PHONE_NUMBER:+33 1 42 68 53 00]]",
    "appelez le [[PHONE_NUMBER:01 42 68 53 00]] svp",
    "India [[PHONE_NUMBER:+91 98765 43210]]",
    "Brasil: [[PHONE_NUMBER:+55 11 91234-5678]]",
    "Israel [[PHONE_NUMBER:+972 3-123-4567]]",
    "Tokyo [[PHONE_NUMBER:+81 3-1234-5678]]",
    "Sydney [[PHONE_NUMBER:+61 2 9374 4000]]",
    "Toronto [[PHONE_NUMBER:+1 (416) 555-0100]]",
    "📞[[PHONE_NUMBER:+44 7911 123456]]📞",
    "hotline:[[PHONE_NUMBER:1-800-555-0199]]!",
    "#help call [[PHONE_NUMBER:+1 212 555 0147]] #nyc",
    "whatsapp [[PHONE_NUMBER:+34 612 345 678]]",
    "mobile [[PHONE_NUMBER:07700 900456]] (uk)",
    "ring [[PHONE_NUMBER:+353 1 234 5678]] dublin",
    "call [[PHONE_NUMBER:+1-202-555-0173]], or not",
]

URL_CASES = [
    "read this [[URL:https://example.com/articles/123]] now",
    "[[URL:http://example.org]]",
    "no scheme: [[URL:example.com/path?q=1&x=2]] ok",
    "short link [[URL:bit.ly/3xYzAbC]] 👀",
    "[[URL:t.co/AbCdEf123]]",
    "[[URL:youtu.be/dQw4w9WgXcQ]] lol",
    "visit [[URL:www.example.net]].",
    "(see [[URL:https://example.com/a_(b)]])",
    "source: [[URL:https://news.example.co.uk/2025/03/01/story.html]]",
    "[[URL:https://example.museum/collection/42]] unusual tld",
    "#link [[URL:https://example.dev/blog]] #dev",
    "docs at [[URL:docs.example.io/en/latest/]]!",
    "[[URL:https://bsky.app/profile/did:plc:abcdefghijklmnopqrstuvwx/post/3kabc123]]",
    "profile [[URL:bsky.app/profile/alice.bsky.social]]",
    "plc: [[URL:https://plc.directory/did:plc:zyxwvutsrqponmlkjihgfedc]]",
    "[[URL:ftp://files.example.com/pub/data.csv]]",
    "goo [[URL:goo.gl/maps/abc123]], then left",
    "🔗[[URL:https://example.com]]🔗",
    "[[URL:HTTPS://EXAMPLE.COM/UPPER]]",
    "link:[[URL:https://example.org/x#frag]]",
    "[[URL:https://example.com:8443/admin]] port",
    "tiny [[URL:tinyurl.com/2p8xyz9k]] ok",
]

USERNAME_CASES = [
    "thanks [[USERNAME:@alice.bsky.social]]!",
    "cc [[USERNAME:@name.example.org]] and [[USERNAME:@bob99.bsky.social]]",
    "[[USERNAME:@a-b-1.long.custom.domain.co.uk]] said so",
    "ping [[USERNAME:@ndp.example.ca]], [[USERNAME:@the-ondy.bsky.social]] #onpoli",
    "([[USERNAME:@carol.example.com]])",
    "🎉[[USERNAME:@dave-2024.bsky.social]]🎉",
    "[[USERNAME:@Erin.Example.ORG]]'s thread",
    "via [[USERNAME:@news.example.co.uk]]: big story",
    "[[USERNAME:@x.bsky.social]] first",
    "h/t [[USERNAME:@frank123.bsky.social]].",
    "#art by [[USERNAME:@grace-art.bsky.social]] #illustration",
    "[[USERNAME:@heidi.example.dev]]?",
    '"[[USERNAME:@ivan.example.net]]"',
    "follow [[USERNAME:@jobs.example.io]] for jobs",
    "[[USERNAME:@k.example.lol]] lol",
    "1. [[USERNAME:@leo.bsky.social]] 2. [[USERNAME:@mia.bsky.social]]",
    "great point [[USERNAME:@nora.sub.example.org]]…",
    "[[USERNAME:@oscar.bsky.social]]\n[[USERNAME:@pia.bsky.social]]",
    "@ [[USERNAME:@quinn.bsky.social]] lol",
    "replying to [[USERNAME:@r-s-t.example.com]] here",
]

DID_CASES = [
    "my did is [[DID:did:plc:abcdefghijklmnopqrstuvwx]]",
    "[[DID:did:plc:z72i7hdynmk6r22z27h6tvur]].",
    "([[DID:did:plc:ewvi7nxzyoun6zhxrhs64oiz]])",
    "web: [[DID:did:web:example.com]] hosted",
    "[[DID:did:web:blog.example.org]]!",
    "[[DID:did:web:example.com%3A3000]] dev",
    "🆔 [[DID:did:plc:qwertyuiopasdfghjklzxcvb]] 🆔",
    "#atproto [[DID:did:plc:mnbvcxzlkjhgfdsapoiuytre]] #bluesky",
    "DID=[[DID:did:plc:aaaaaaaaaaaaaaaaaaaaaaaa]];",
    "[[DID:did:plc:bbbbbbbbbbbbbbbbbbbbbbbb]], [[DID:did:plc:cccccccccccccccccccccccc]]",
    "resolve [[DID:did:web:alice.example.co.uk]] pls",
    "DID:[[DID:did:plc:234567abcdefghij234567ab]]",
]

AT_URI_CASES = [
    "[[AT_URI:at://did:plc:abcdefghijklmnopqrstuvwx/app.bsky.feed.post/3kabc2def]]",
    "quoted [[AT_URI:at://alice.bsky.social/app.bsky.feed.post/3lgh7jk]] here",
    "uri: [[AT_URI:at://did:plc:z72i7hdynmk6r22z27h6tvur/app.bsky.graph.list/3k4]].",
    "([[AT_URI:at://did:web:example.com/app.bsky.actor.profile/self]])",
    "📌 [[AT_URI:at://did:plc:ewvi7nxzyoun6zhxrhs64oiz]] 📌",
    "#dev [[AT_URI:at://example.org/com.example.record/abc]] #atproto",
    "see [[AT_URI:at://did:plc:qwertyuiopasdfghjklzxcvb/app.bsky.feed.like/3l2]], ok",
    "[[AT_URI:AT://did:plc:mnbvcxzlkjhgfdsapoiuytre/app.bsky.feed.post/x]]",
    "two: [[AT_URI:at://a.example.com/x/1]] [[AT_URI:at://b.example.com/y/2]]",
    "at: [[AT_URI:at://did:plc:234567abcdefghij234567ab/app.bsky.feed.repost/3kz]]!",
]

IP_CASES = [
    "server at [[IP_ADDRESS:192.168.1.20]] is down",
    "[[IP_ADDRESS:10.0.0.1]],[[IP_ADDRESS:10.0.0.2]]",
    "ipv6 [[IP_ADDRESS:2001:db8:85a3::8a2e:370:7334]] works",
    "(from [[IP_ADDRESS:203.0.113.7]])",
    "🌐[[IP_ADDRESS:198.51.100.14]]",
    "ssh root@[[IP_ADDRESS:172.16.254.1]] lol",
    "block [[IP_ADDRESS:8.8.8.8]].",
    "lo [[IP_ADDRESS:::1]] ok",
]

CREDIT_CARD_CASES = [
    "card [[CREDIT_CARD:4111 1111 1111 1111]] leaked",
    "[[CREDIT_CARD:5555-5555-5555-4444]]",
    "amex [[CREDIT_CARD:378282246310005]].",
    "visa:[[CREDIT_CARD:4012888888881881]]!",
    "(cc [[CREDIT_CARD:6011 1111 1111 1117]])",
    "💳 [[CREDIT_CARD:4242424242424242]] 💳",
]

CRYPTO_CASES = [
    "tip jar [[CRYPTO:1BoatSLRHtKNngkdXEeobR76b53LETtpyT]]",
    "btc: [[CRYPTO:3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy]].",
    "[[CRYPTO:bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq]] #bitcoin",
    "donate ([[CRYPTO:1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2]])",
]

IBAN_CASES = [
    "pay to [[IBAN_CODE:DE89370400440532013000]] pls",
    "[[IBAN_CODE:GB82WEST12345698765432]].",
    "iban: [[IBAN_CODE:FR1420041010050500013M02606]]",
    "NL: [[IBAN_CODE:NL91ABNA0417164300]]!",
    "[[IBAN_CODE:DE89 3704 0044 0532 0130 00]] spaced",
]

MIXED_CASES = [
    "[[USERNAME:@alice.bsky.social]] mail [[EMAIL_ADDRESS:alice@example.com]] site [[URL:example.com]]",
    "[[DID:did:plc:abcdefghijklmnopqrstuvwx]] posted [[URL:https://example.com/x]] call [[PHONE_NUMBER:+1 415-555-0132]]",
    "❤️[[USERNAME:@bob.example.org]]❤️ [[URL:bit.ly/abc]]",
    "RT [[USERNAME:@news.bsky.social]]: [[URL:https://news.example.com/story/1]] #breaking",
]

# Look-alikes: nothing here may be removed.
NEGATIVE_CASES = [
    "released v1.2.3 today",
    "python 3.11.7 and node 20.11.1",
    "meeting at 10:30, lunch at 12:45",
    "it costs $19.99, was $24.50",
    "we got 1,234 votes and 5,678 likes",
    "see you on 12/05/2025!",
    "born 1990-04-12, moved 2015",
    "thanks @everyone for coming",
    "@here please read",
    "score was 3-1 at half time",
    "chapter 7, page 132, line 12",
    "up 12% since 2024",
    "population 8,000,000 and growing",
    "mix 2.5 cups flour with 1.5 cups milk",
    "i.e. this, e.g. that, etc.",
    "Mr.Smith and Dr.Jones met",
    "the end.Next sentence starts here",
    "ratio 16:9 looks best",
    "#2024election #vote2024",
    "top 10 songs of 2023",
    "@3.50 per unit",
    "@v1.2 is old",
    "email me (not really)",
    "call me maybe 🎶",
    "we met at the cafe dot by the station",
    "iOS 17.4.1 update",
    "temperature 21.5°C today",
    "room 101, floor 3",
    "the 1990s were weird",
    "4:3 aspect and 1080p",
    "ISBN 978-3-16-148410-0",
    "it's 2x faster, 3.5x cheaper",
    "@@double at sign",
    "lol @ that",
    "a.m. and p.m. times",
    "U.S. and U.K. policy",
    "file.txt and image.png and data.csv",
    "index.html is missing",
    "I give it 9/10",
    "price went from 1.05 to 1.20",
]

ALL_POSITIVE = (
    EMAIL_CASES
    + PHONE_CASES
    + URL_CASES
    + USERNAME_CASES
    + DID_CASES
    + AT_URI_CASES
    + IP_CASES
    + CREDIT_CARD_CASES
    + CRYPTO_CASES
    + IBAN_CASES
    + MIXED_CASES
)
ALL_CASES = ALL_POSITIVE + NEGATIVE_CASES


def parse_case(marked: str) -> tuple[str, list[tuple[int, int, str]]]:
    """Strip `[[TYPE:value]]` markers; return (text, [(start, end, TYPE), ...]) in str offsets."""
    parts: list[str] = []
    spans: list[tuple[int, int, str]] = []
    pos = 0
    length = 0
    for match in _MARK.finditer(marked):
        before = marked[pos : match.start()]
        parts.append(before)
        length += len(before)
        value = match.group(2)
        spans.append((length, length + len(value), match.group(1)))
        parts.append(value)
        length += len(value)
        pos = match.end()
    parts.append(marked[pos:])
    return "".join(parts), spans
