"""The personas of a sample: topic phrases and hashtags, political and not, and the political keywords.

Each persona is a (phrases, hashtags) pair. Political phrases each contain a POLITICAL_KEYWORD; nothing else in
the sample may contain one (not even as a substring, e.g. "selection" or "devoted"), so a keyword topic filter
(`is_political_text`) separates the two groups exactly. The remaining word lists live in `vocabulary`.
"""

from __future__ import annotations

import re

POLITICAL_KEYWORDS: tuple[str, ...] = (
    "election",
    "senate",
    "policy",
    "vote",
    "democracy",
    "parliament",
    "congress",
    "tariff",
    "immigration",
    "climate policy",
)


POLITICAL_TOPICS: dict[str, tuple[list[str], list[str]]] = {
    "us_elections": (
        [
            "the senate runoff election",
            "early vote counts in Georgia",
            "the congress district maps",
            "election night coverage",
            "turnout in the midterm election",
            "the senate majority math",
            "swing state vote tallies",
            "the congress hearing on election security",
        ],
        ["uspol", "Election2026", "Vote"],
    ),
    "eu_parliament": (
        [
            "the European parliament plenary",
            "the parliament vote on the AI act",
            "EU digital policy",
            "the parliament committee on trade",
            "qualified majority vote rules",
            "European election campaigns",
            "the parliament budget debate",
            "Brussels agricultural policy",
        ],
        ["EUpol", "EuropeanParliament", "EUpolitics"],
    ),
    "climate_policy": (
        [
            "climate policy in the budget",
            "the carbon tax policy",
            "the senate climate bill",
            "net zero policy targets",
            "the congress vote on clean energy credits",
            "emissions trading policy",
            "climate policy after the summit",
            "the parliament debate on coal phase-out",
        ],
        ["ClimatePolicy", "NetZero", "ClimateAction"],
    ),
    "immigration": (
        [
            "immigration reform",
            "the asylum and immigration bill",
            "border policy changes",
            "the senate immigration deal",
            "immigration court backlogs",
            "visa policy for students",
            "the congress fight over immigration funding",
            "refugee resettlement policy",
        ],
        ["Immigration", "AsylumPolicy", "BorderPolicy"],
    ),
    "trade_tariffs": (
        [
            "the new steel tariff",
            "tariff threats against Canada",
            "retaliatory tariff lists",
            "trade policy uncertainty",
            "the congress vote on trade authority",
            "tariff costs for small farms",
            "export policy for chips",
            "the senate trade committee",
        ],
        ["Tariffs", "TradePolicy", "TradeWar"],
    ),
    "healthcare_policy": (
        [
            "health policy and insurance premiums",
            "the senate vote on drug prices",
            "Medicaid policy cuts",
            "the congress health funding bill",
            "public option policy",
            "hospital price transparency policy",
            "the parliament debate on NHS funding",
            "vaccine policy in schools",
        ],
        ["HealthPolicy", "Medicaid", "HealthCare"],
    ),
    "uk_parliament": (
        [
            "Prime Minister's Questions in parliament",
            "the parliament vote on the budget",
            "a snap general election",
            "Westminster housing policy",
            "the Lords and the parliament ping-pong",
            "by-election results",
            "the parliament select committee report",
            "fiscal policy under the Chancellor",
        ],
        ["ukpolitics", "PMQs", "GeneralElection"],
    ),
    "democracy_rights": (
        [
            "voting rights and democracy",
            "the vote suppression lawsuits",
            "protecting democracy at the local level",
            "the senate filibuster and democracy",
            "election observers",
            "democracy under pressure",
            "mail-in vote access",
            "the congress ethics rules and democracy",
        ],
        ["Democracy", "VotingRights", "ProtectTheVote"],
    ),
    "housing_policy": (
        [
            "zoning policy reform",
            "rent control policy",
            "the city council vote on density",
            "housing policy in the senate bill",
            "the parliament vote on social housing",
            "mortgage relief policy",
            "homelessness policy funding",
            "the congress housing package",
        ],
        ["HousingPolicy", "YIMBY", "RentControl"],
    ),
    "labor_policy": (
        [
            "minimum wage policy",
            "the union recognition vote",
            "the senate labor committee",
            "strike law policy",
            "the congress vote on overtime rules",
            "gig worker policy",
            "the parliament debate on working hours",
            "pension policy changes",
        ],
        ["LaborPolicy", "UnionStrong", "Workers"],
    ),
    "tech_policy": (
        [
            "AI regulation policy",
            "the senate hearing on social media",
            "antitrust policy for big tech",
            "the congress privacy bill",
            "the parliament vote on encryption",
            "content moderation policy",
            "election misinformation rules",
            "broadband subsidy policy",
        ],
        ["TechPolicy", "AIpolicy", "Antitrust"],
    ),
    "education_policy": (
        [
            "school funding policy",
            "the senate vote on student loans",
            "curriculum policy fights",
            "the congress education budget",
            "school board election races",
            "teacher pay policy",
            "the parliament debate on tuition fees",
            "policy on phones in classrooms",
        ],
        ["EduPolicy", "StudentLoans", "Teachers"],
    ),
}
NON_POLITICAL_TOPICS: dict[str, tuple[list[str], list[str]]] = {
    "gardening": (
        [
            "tomato seedlings",
            "compost heaps",
            "raised garden beds",
            "heirloom seeds",
            "pruning roses",
            "slugs on the lettuce",
            "winter sowing",
            "the greenhouse",
        ],
        ["gardening", "GrowYourOwn", "Gardenersky"],
    ),
    "astronomy": (
        [
            "the Orion nebula",
            "Jupiter's moons",
            "a new telescope mount",
            "dark sky sites",
            "the meteor shower",
            "galaxy clusters",
            "astrophotography stacking",
            "the lunar eclipse",
        ],
        ["astronomy", "astrophotography", "space"],
    ),
    "baking": (
        [
            "sourdough starter",
            "laminated croissant dough",
            "a rye loaf",
            "cinnamon rolls",
            "oven spring",
            "bread flour hydration",
            "a lemon tart",
            "proofing baskets",
        ],
        ["baking", "sourdough", "bread"],
    ),
    "running": (
        [
            "marathon training",
            "tempo runs",
            "trail running shoes",
            "a new 10k personal best",
            "interval sessions",
            "the long run on Sunday",
            "running cadence",
            "race day nutrition",
        ],
        ["running", "marathon", "RunChat"],
    ),
    "cats": (
        [
            "my cat",
            "the kitten",
            "cat zoomies at 3am",
            "the litter box",
            "a cardboard box fort",
            "cat treats",
            "the orange cat",
            "the vet visit",
        ],
        ["CatsOfBluesky", "caturday", "cats"],
    ),
    "knitting": (
        [
            "sock yarn",
            "a cable knit sweater",
            "the colourwork chart",
            "merino wool",
            "circular needles",
            "a lace shawl",
            "blocking a cardigan",
            "the yarn stash",
        ],
        ["knitting", "yarn", "knitstagram"],
    ),
    "birdwatching": (
        [
            "a red kite",
            "the heron by the river",
            "warbler migration",
            "my binoculars",
            "the bird feeder",
            "a kingfisher sighting",
            "owl calls at dusk",
            "the wetland reserve",
        ],
        ["birding", "birds", "BirdsOfBluesky"],
    ),
    "jazz": (
        [
            "a Coltrane record",
            "the bebop standards",
            "the jam session",
            "walking bass lines",
            "vinyl pressings",
            "the tenor sax solo",
            "modal jazz",
            "the club gig last night",
        ],
        ["jazz", "vinyl", "NowPlaying"],
    ),
    "indie_games": (
        [
            "an indie roguelike",
            "pixel art sprites",
            "the game jam",
            "a cozy farming game",
            "the speedrun route",
            "level design",
            "a metroidvania map",
            "the early access build",
        ],
        ["indiegames", "gamedev", "screenshotsaturday"],
    ),
    "football": (
        [
            "the derby match",
            "the transfer window",
            "the offside rule",
            "a stoppage time winner",
            "the league table",
            "the striker's form",
            "the cup final",
            "the new manager's tactics",
        ],
        ["football", "PremierLeague", "matchday"],
    ),
    "anime": (
        [
            "the new anime season",
            "a studio Ghibli rewatch",
            "the manga chapter",
            "the opening theme",
            "a shonen fight scene",
            "the cosplay meetup",
            "the light novel adaptation",
            "the animation quality",
        ],
        ["anime", "manga", "AnimeSky"],
    ),
    "photography": (
        [
            "a 35mm film roll",
            "golden hour light",
            "the prime lens",
            "street photography",
            "long exposure shots",
            "the darkroom",
            "portrait lighting",
            "a medium format camera",
        ],
        ["photography", "filmphotography", "streetphotography"],
    ),
    "hiking": (
        [
            "the ridge trail",
            "a summit sunrise",
            "trekking poles",
            "the alpine hut",
            "blisters on day two",
            "the waterfall loop",
            "trail maps",
            "a wild camping spot",
        ],
        ["hiking", "outdoors", "mountains"],
    ),
    "coffee": (
        [
            "a pour over",
            "light roast beans",
            "the espresso grinder",
            "latte art",
            "cold brew",
            "the Ethiopian single origin",
            "milk frothing",
            "the coffee scale",
        ],
        ["coffee", "espresso", "CoffeeTime"],
    ),
    "rust_coding": (
        [
            "the borrow checker",
            "async Rust",
            "a memory leak",
            "compile times",
            "the new crate release",
            "lifetimes",
            "unit tests",
            "the refactor",
        ],
        ["rustlang", "programming", "opensource"],
    ),
    "fantasy_books": (
        [
            "the fantasy series",
            "a dragon heist novel",
            "the magic system",
            "my reading list",
            "the epic trilogy",
            "the audiobook narrator",
            "worldbuilding maps",
            "the library haul",
        ],
        ["books", "fantasybooks", "amreading"],
    ),
    "cycling": (
        [
            "the gravel bike",
            "a century ride",
            "chain lube",
            "the climb up the pass",
            "bike commuting",
            "tubeless tyres",
            "the group ride",
            "saddle sores",
        ],
        ["cycling", "gravel", "bikelife"],
    ),
    "chess": (
        [
            "the Sicilian defence",
            "a blitz tournament",
            "endgame studies",
            "the queen sacrifice",
            "opening prep",
            "the rapid rating",
            "a brilliant move",
            "the chess club",
        ],
        ["chess", "chesscom", "lichess"],
    ),
}
PERSONAS: tuple[str, ...] = tuple(POLITICAL_TOPICS) + tuple(NON_POLITICAL_TOPICS)
PERSONA_WORDS: tuple[tuple[list[str], list[str]], ...] = tuple(
    {**POLITICAL_TOPICS, **NON_POLITICAL_TOPICS}.values()
)
N_POLITICAL = len(POLITICAL_TOPICS)
POLITICAL_SHARE = 0.45  # share of users given a political persona
PERSONA_INDEX: dict[str, int] = {name: i for i, name in enumerate(PERSONAS)}

_KEYWORD_RE = re.compile("|".join(re.escape(k) for k in POLITICAL_KEYWORDS), re.IGNORECASE)


def is_political_text(text: str) -> bool:
    """True if `text` contains one of POLITICAL_KEYWORDS (case-insensitive substring), as planted here."""
    return _KEYWORD_RE.search(text) is not None
