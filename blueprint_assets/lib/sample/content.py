"""The content of sample posts: text from persona phrases and templates, facets, planted PII, and embeds.

`ContentMaker` draws from the generator's own `random.Random` (the order of draws is part of the output, so
keep it when editing) and counts the PII it plants in `pii`. `TextBuilder` records facets with UTF-8 byte
offsets, as atproto does.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

from blueprint_assets.lib.sample.ids import fake_cid, tid
from blueprint_assets.lib.sample.model import Post, SampleUser
from blueprint_assets.lib.sample.vocabulary import (
    BTC,
    CARDS,
    DAY_US,
    EMOJI,
    EN_CLOSERS,
    EN_OPENERS,
    EN_REPLY_OPENERS,
    EN_TEMPLATES,
    FOREIGN_TEMPLATES,
    PHONES,
    PII_KINDS,
    PII_TEMPLATES,
)
from blueprint_assets.lib.sample.vocabulary_topics import PERSONA_INDEX, PERSONA_WORDS


class TextBuilder:
    """Builds post text while recording facets with UTF-8 byte offsets."""

    __slots__ = ("parts", "nbytes", "facets")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.nbytes = 0
        self.facets: list[dict[str, Any]] = []

    def add(self, s: str) -> None:
        self.parts.append(s)
        self.nbytes += len(s.encode())

    def facet(self, s: str, feature: dict[str, Any]) -> None:
        start = self.nbytes
        self.add(s)
        self.facets.append(
            {
                "$type": "app.bsky.richtext.facet",
                "features": [feature],
                "index": {"byteEnd": self.nbytes, "byteStart": start},
            }
        )

    @property
    def text(self) -> str:
        return "".join(self.parts)


def iban(rng: random.Random) -> str:
    """A German IBAN with a valid ISO 13616 mod-97 checksum."""
    bban = "".join(rng.choice("0123456789") for _ in range(18))
    rearranged = bban + "1314" + "00"  # D=13, E=14
    check = 98 - int(rearranged) % 97
    return f"DE{check:02d}{bban}"


def _pii_value(rng: random.Random, kind: str, user: SampleUser, other: SampleUser, start_us: int) -> str:
    """A fake value of PII `kind` (documentation ranges, test numbers, fake accounts of the sample)."""
    if kind == "EMAIL_ADDRESS":
        name = user.handle.split(".")[0]
        return f"{name}@{rng.choice(('example.com', 'mail.example.org', 'example.net'))}"
    if kind == "PHONE_NUMBER":
        return rng.choice(PHONES).format(n=rng.randrange(100, 200), d=rng.randrange(10))
    if kind == "URL":
        path = f"{user.persona.replace('_', '-')}/{rng.randrange(1000, 9999)}"
        return rng.choice(
            (f"https://blog.example.org/{path}", f"www.example.com/{path}", f"example.net/{path}")
        )
    if kind == "IP_ADDRESS":
        return rng.choice(
            (
                f"192.0.2.{rng.randrange(1, 255)}",
                f"198.51.100.{rng.randrange(1, 255)}",
                f"203.0.113.{rng.randrange(1, 255)}",
                f"2001:db8::{rng.randrange(1, 0xFFFF):x}",
            )
        )
    if kind == "CREDIT_CARD":
        return rng.choice(CARDS)
    if kind == "CRYPTO":
        return rng.choice(BTC)
    if kind == "IBAN_CODE":
        return iban(rng)
    if kind == "USERNAME":
        return "@" + other.handle
    if kind == "DID":
        return other.did
    return f"at://{other.did}/app.bsky.feed.post/{tid(start_us - rng.randrange(DAY_US, 30 * DAY_US))}"


def images(rng: random.Random, created: int) -> dict[str, Any]:
    """An `app.bsky.embed.images` embed with one fake JPEG blob."""
    w, h = rng.choice(((1200, 1200), (2000, 1500), (1080, 1350)))
    return {
        "$type": "app.bsky.embed.images",
        "images": [
            {
                "alt": rng.choice(("", "A photo.", "Screenshot of a chart.")),
                "aspectRatio": {"height": h, "width": w},
                "image": {
                    "$type": "blob",
                    "ref": {"$link": fake_cid(f"img/{created}/{rng.random()}", raw=True)},
                    "mimeType": "image/jpeg",
                    "size": rng.randrange(40_000, 900_000),
                },
            }
        ],
    }


def embed(
    rng: random.Random, cat: str, target: Post | None, link: str | None, created: int
) -> dict[str, Any] | None:
    """The embed of a new post: the quoted record (quotes), its link card, images, or None."""
    strong = {"cid": target.cid, "uri": target.uri} if target is not None else None
    # A few replies also quote (the pipeline must still call them replies).
    if strong is not None and (cat == "quote" or (cat == "reply" and rng.random() < 0.03)):
        if rng.random() < 0.25:
            return {
                "$type": "app.bsky.embed.recordWithMedia",
                "media": images(rng, created),
                "record": {"$type": "app.bsky.embed.record", "record": strong},
            }
        return {"$type": "app.bsky.embed.record", "record": strong}
    if link is not None and rng.random() < 0.5:
        return {
            "$type": "app.bsky.embed.external",
            "external": {"description": "An article.", "title": "Read more", "uri": link},
        }
    if rng.random() < 0.1:
        return images(rng, created)
    return None


class ContentMaker:
    """Writes the text of posts (and post-like records) for the accounts of a sample."""

    def __init__(self, rng: random.Random, users: list[SampleUser], start_us: int) -> None:
        self.rng = rng
        self.users = users
        self.start_us = start_us
        self.pii: Counter[str] = Counter()

    def sentence(self, persona: int, lang: str, reply: bool) -> str:
        """Two sentences about four distinct phrases of `persona`, or one templated sentence in `lang`."""
        rng = self.rng
        phrases, _ = PERSONA_WORDS[persona]
        a, b, c, d = rng.sample(phrases, 4)  # four distinct phrases of the persona
        if lang != "en":
            tpl = FOREIGN_TEMPLATES[lang]
            return tpl[rng.randrange(len(tpl))].format(a=a, b=b)
        first = (
            rng.choice(EN_REPLY_OPENERS).format(a=a)
            if reply
            else rng.choice(EN_OPENERS) + rng.choice(EN_TEMPLATES).format(a=a, b=b)
        )
        second = rng.choice(EN_TEMPLATES).format(a=c, b=d)
        return f"{first} {second}{rng.choice(EN_CLOSERS)}"

    def compose(
        self, user: SampleUser, reply: bool
    ) -> tuple[str, list[dict[str, Any]], list[str], str | None]:
        """Text, facets, langs and the link uri (if any) of a new post by `user`."""
        rng = self.rng
        persona = PERSONA_INDEX[user.persona]
        lang = user.lang if user.lang == "en" or rng.random() < 0.9 else "en"
        tb = TextBuilder()
        if rng.random() < 0.08:
            tb.add(rng.choice(EMOJI) + " ")
        if reply and rng.random() < 0.25:
            self._mention(tb, user)
            tb.add(" ")
        tb.add(self.sentence(persona, lang, reply))
        if rng.random() < 0.10:
            tb.add(" " + self._pii_sentence(user))
        if rng.random() < 0.12:
            tb.add(" cc ")
            self._mention(tb, user)
        link = self._link(tb, user)
        if rng.random() < 0.35:
            self._hashtags(tb, persona)
        return tb.text, tb.facets, [lang], link

    def _link(self, tb: TextBuilder, user: SampleUser) -> str | None:
        """Sometimes a link facet (shown in full or shortened); returns its uri."""
        rng = self.rng
        if rng.random() >= 0.08:
            return None
        link = f"https://news.example.com/{user.persona.replace('_', '-')}/{rng.randrange(10_000, 99_999)}"
        tb.add(" ")
        shown = link if rng.random() < 0.5 else link[8:30] + "..."
        tb.facet(shown, {"$type": "app.bsky.richtext.facet#link", "uri": link})
        return link

    def _hashtags(self, tb: TextBuilder, persona: int) -> None:
        rng = self.rng
        if rng.random() < 0.3:  # emoji right before facets exercise multi-byte offsets
            tb.add(" " + rng.choice(EMOJI) + rng.choice(EMOJI))
        tags = PERSONA_WORDS[persona][1]
        for tag in rng.sample(tags, rng.randint(1, len(tags))):
            tb.add(" ")
            tb.facet("#" + tag, {"$type": "app.bsky.richtext.facet#tag", "tag": tag})

    def _mention(self, tb: TextBuilder, user: SampleUser) -> None:
        other = self.users[self.rng.randrange(len(self.users))]
        if other.index == user.index:
            other = self.users[(other.index + 1) % len(self.users)]
        tb.facet("@" + other.handle, {"$type": "app.bsky.richtext.facet#mention", "did": other.did})

    def _pii_sentence(self, user: SampleUser) -> str:
        rng = self.rng
        kind = rng.choice(PII_KINDS)
        self.pii[kind] += 1
        other = self.users[rng.randrange(len(self.users))]
        value = _pii_value(rng, kind, user, other, self.start_us)
        return rng.choice(PII_TEMPLATES[kind]).format(v=value)
