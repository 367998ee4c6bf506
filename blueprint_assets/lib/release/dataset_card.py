"""The dataset card (public/README.md): Hugging Face YAML header with one config per K, and the prose.

`render_card(granularities, context)` is pure: `granularities` maps K to its published counts and cluster
ids; `context` holds the release settings (see release_files.write_release). Required fields (licence,
citation, contact) are checked by lib/release/provenance.card_problems before anything is published.
"""

from __future__ import annotations

from typing import Any

import yaml

from blueprint_assets.lib.actions_space import ACTION_ORDER
from blueprint_assets.lib.release.layout import config_name
from blueprint_assets.lib.release.provenance import LICENSE_NOTE, SYNTHETIC_NOTICE, citation_section
from blueprint_assets.lib.release.splits import HIDDEN_SPLITS, SPLITS

DEFAULT_LICENSE = "cc-by-4.0"
DEFAULT_NAME = "BluePrint persona action threads"
# Setting name in the card -> the environment variable that sets it (None: resource config only).
SETTING_ENV = {
    "k": "BLUEPRINT_K",
    "min_cluster_size": "BLUEPRINT_MIN_CLUSTER_SIZE",
    "min_english_posts": None,
    "require_keywords": "BLUEPRINT_REQUIRE_KEYWORDS",
    "keywords_file": "BLUEPRINT_KEYWORDS_FILE",
    "max_depth": None,
}
GATED_FIELDS = {
    "extra_gated_prompt": (
        "This dataset holds anonymized public posts of real people. To access it, agree not to try to "
        "re-identify anyone, to use it for research only, and to honour removal requests."
    ),
    "extra_gated_fields": {
        "Name": "text",
        "Affiliation": "text",
        "Intended use": "text",
        "I agree not to re-identify authors and to use the data for research only": "checkbox",
    },
}


def hf_features() -> list[dict[str, Any]]:
    actions = [{"name": name, "dtype": "bool"} for name in ACTION_ORDER]
    message = [
        {"name": "user_id", "dtype": "string"},
        {"name": "relative_integer_time", "dtype": "int64"},
        {"name": "text", "dtype": "string"},
        {"name": "actions", "struct": actions},
    ]
    return [
        {"name": "id", "dtype": "string"},
        {"name": "cluster_id", "dtype": "int32"},
        {"name": "thread", "list": message},
    ]


def _size_category(n: int) -> str:
    for limit, label in (
        (1_000, "n<1K"),
        (10_000, "1K<n<10K"),
        (100_000, "10K<n<100K"),
        (1_000_000, "100K<n<1M"),
    ):
        if n < limit:
            return label
    return "1M<n<10M"


def _total(stats: dict[str, dict[str, int]]) -> int:
    return sum(sum(c.values()) for c in stats.values())


def yaml_header(granularities: dict[int, dict[str, Any]], context: dict[str, Any]) -> str:
    ks = sorted(granularities)
    synthetic = bool(context.get("synthetic_sample"))
    header: dict[str, Any] = {
        "license": context.get("license", DEFAULT_LICENSE),
        "pretty_name": ("[SYNTHETIC SAMPLE] " if synthetic else "")
        + context.get("pretty_name", DEFAULT_NAME),
        "language": list(context.get("languages", ["en"])),
        "task_categories": ["text-generation", "text-classification"],
        "tags": ["social-media", "bluesky", "persona", "next-action-prediction", "simpact"]
        + (["synthetic"] if synthetic else []),
        "size_categories": [_size_category(max((_total(granularities[k]["stats"]) for k in ks), default=0))],
        "configs": [
            {
                "config_name": config_name(k),
                "data_files": [{"split": s, "path": f"{config_name(k)}/data/{s}.parquet"} for s in SPLITS],
                **({"default": True} if k == ks[0] else {}),
            }
            for k in ks
        ],
        "dataset_info": [
            {
                "config_name": config_name(k),
                "features": hf_features(),
                "splits": [
                    {"name": s, "num_examples": sum(granularities[k]["stats"][s].values())} for s in SPLITS
                ],
            }
            for k in ks
        ],
        "blueprint": {
            "window": context.get("window", "unspecified"),
            "synthetic_sample": synthetic,
            "contact": context.get("contact") or "",
            "granularities": ks,
            "skipped_granularities": {int(k): r for k, r in sorted(context.get("skipped_ks", {}).items())},
        },
    }
    if context.get("gated"):
        header.update(GATED_FIELDS)
    return "---\n" + yaml.safe_dump(header, sort_keys=False, allow_unicode=True, width=1000) + "---\n"


def counts_table(stats: dict[str, dict[str, int]]) -> str:
    """Train threads per action; validation/test only as totals (their action mix is part of the answers)."""
    lines = ["| action | train |", "|---|---:|"]
    lines += [f"| {action} | {stats['train'][action]} |" for action in ACTION_ORDER]
    lines.append(f"| **all** | {sum(stats['train'].values())} |")
    totals = ", ".join(f"{s} {sum(stats[s].values())}" for s in SPLITS if s in HIDDEN_SPLITS)
    return "\n".join(lines) + f"\n\nHidden splits (threads): {totals}."


def _bullets(mapping: dict[str, Any]) -> str:
    if not mapping:
        return "- (none)"
    return "\n".join(f"- `{key}`: {mapping[key]}" for key in sorted(mapping))


def _setting(name: str, value: Any) -> str:
    env = SETTING_ENV.get(name)
    return f"- `{name}` = `{value}`" + (f" (set with `{env}`)" if env else "")


def _pseudonym_text(mode: str) -> str:
    if mode == "stable":
        return (
            "**stable**: a user has the same `user_id` in every thread of this release (keyed HMAC of the "
            "pseudonym). This allows per-user modelling but also lets anyone link one person's threads."
        )
    return (
        "**per-thread**: `user_id` is a keyed HMAC of the pseudonym and the thread, so the same person "
        "has the same id within a thread but unrelated ids in different threads."
    )


def _granularity_section(granularities: dict[int, dict[str, Any]], context: dict[str, Any]) -> str:
    lines = [
        "## Configurations (granularities)",
        "One Hugging Face config per number of persona clusters K:",
        "",
    ]
    for k in sorted(granularities):
        info = granularities[k]
        lines.append(
            f"- `{config_name(k)}`: {len(info['clusters'])} clusters, "
            f"{_total(info['stats'])} threads (`load_dataset(REPO, '{config_name(k)}')`)"
        )
    for k, reason in sorted(context.get("skipped_ks", {}).items()):
        lines.append(f"- K={k} was requested but skipped: {reason}")
    return "\n".join(lines)


def _structure_section() -> str:
    return (
        "## Structure\n"
        "Per config `{K}_clusters/`:\n"
        "- `data/{train,validation,test}.parquet`: `id`, `cluster_id`, `thread` (list of messages "
        "`{user_id, relative_integer_time, text?, actions?}`; only the last message has `actions`).\n"
        "- `{split}/cluster_{i}.jsonl`: the same rows, one file per persona cluster (Kaggle layout).\n"
        "- `personas/cluster_{i}.md`: a description of each persona cluster.\n"
        "- In `validation` and `test` the last message has neither `text` nor `actions`. Their answer keys "
        "are not part of this dataset: the maintainers keep them to score submissions.\n"
        "- `MANIFEST.json`: SHA-256 of every file.\n\n"
        "Load with `datasets.load_dataset(<this folder or repo>, '25_clusters')`, pandas `read_parquet`, "
        "or DuckDB `SELECT * FROM '25_clusters/data/train.parquet'`."
    )


def _filtering_section(granularities: dict[int, dict[str, Any]], context: dict[str, Any]) -> str:
    filters = dict(context.get("filters") or {})
    filters.setdefault("max_depth", context.get("max_depth", 5))
    lines = ["## Filtering", "Settings of this release:"]
    lines += [_setting(name, filters[name]) for name in sorted(filters)]
    lines.append(
        f"- Persona clusters: K in {sorted(granularities)}; each cluster groups user embeddings (mean "
        "sentence embedding of a user's posts and replies) and holds at least `min_cluster_size` users."
    )
    lines.append(
        f"- Reply chains are cut at depth {filters['max_depth']}; an action whose context (target post, the "
        "target user's latest post, the original of an edit or deletion) is not available is dropped. A "
        "thread whose public messages would reveal the text of a hidden validation/test answer is dropped "
        "too (`reveals_hidden_answer`). Drop counts by reason:"
    )
    return "\n".join(lines) + "\n" + _bullets(context.get("dropped", {}))


def _privacy_section(context: dict[str, Any]) -> str:
    opt_outs = f" ({context['opt_outs']} opt-outs applied).\n" if "opt_outs" in context else ".\n"
    pii = (
        "\nPlaceholders substituted, by type:\n" + _bullets(context["pii_counts"])
        if context.get("pii_counts")
        else ""
    )
    return (
        "## Privacy measures\n"
        "- Personal information in text is replaced by typed placeholders (`<URL>`, `<EMAIL_ADDRESS>`, "
        "`<PHONE_NUMBER>`, `<USERNAME>`, `<DID>`, `<AT_URI>`, `<IP_ADDRESS>`, ...), using presidio plus "
        "recognizers for handles, DIDs and at:// URIs; mention and link facets are always replaced.\n"
        "- Accounts and records are replaced by keyed pseudonyms (HMAC-SHA256 under a secret that is never "
        "published); no DID, handle or record URI appears in the release.\n"
        f"- User ids are re-keyed again for publication. Pseudonym mode: {_pseudonym_text(context.get('pseudonym_mode', 'per-thread'))}\n"
        "- Timestamps are replaced by `relative_integer_time`, the dense rank of the message time among all "
        "message times of the release: order is kept, clock time is not.\n"
        "- Accounts that asked to be removed are excluded before threads are built" + opt_outs + pii
    )


def _contact(context: dict[str, Any]) -> str:
    return context.get("contact") or "not configured (maintainers: set `BLUEPRINT_CONTACT`)"


def _removal_channel(context: dict[str, Any]) -> str:
    if context.get("contact"):
        return f"write to {context['contact']}"
    return "open a discussion on this dataset's page (no contact is configured for this release)"


def _splits_section(context: dict[str, Any]) -> str:
    strategy = context.get("split_strategy", "temporal")
    fractions = context.get("fractions", (0.8, 0.1, 0.1))
    seed = f", seed {context['seed']}" if strategy == "random" and "seed" in context else ""
    how = (
        ". Temporal: the latest threads are in test and the ones just before in validation."
        if strategy == "temporal"
        else ". Random: a seeded shuffle (BluePrint used 90/10 train/test)."
    )
    return (
        f"## Splits\nStrategy: **{strategy}**, fractions train/validation/test = "
        f"{'/'.join(str(f) for f in fractions)}{seed}{how} Every config has the same threads in the same "
        "split; only `cluster_id` (and the thread id) differ."
    )


def render_card(granularities: dict[int, dict[str, Any]], context: dict[str, Any]) -> str:
    """README.md: HF YAML header plus the prose a data user and a data subject need."""
    license_id = context.get("license", DEFAULT_LICENSE)
    window = context.get("window", "unspecified")
    title = f"# {context.get('pretty_name', DEFAULT_NAME)} ({window})"
    first = min(granularities)
    sections = [
        title + (f"\n\n{SYNTHETIC_NOTICE}" if context.get("synthetic_sample") else ""),
        "Next-action prediction threads from public Bluesky activity, grouped into persona clusters "
        "following the SIMPACT method of BluePrint (arXiv 2510.02343). Each row is a short thread whose last "
        "message is the action to predict: one of the 13 action types "
        f"({', '.join(f'`{a}`' for a in ACTION_ORDER)}), flagged by exactly one true boolean in `actions`, "
        "with `text` for `post`, `reply`, `quote` and `post_update`.\n\n"
        f"Contact: {_contact(context)}",
        _granularity_section(granularities, context),
        _structure_section(),
        "## Collection\n"
        + context.get(
            "collection",
            "Public Bluesky repository events (posts, replies, quotes, edits, deletions, likes, reposts, "
            "follows, blocks and their undo operations) collected from the Jetstream firehose over the "
            "release window.",
        )
        + f"\n\nRelease window: `{window}`.",
        _filtering_section(granularities, context),
        _privacy_section(context),
        "## Known residual risks\n"
        "- The text is public: searching Bluesky for a distinctive sentence can find the original post and "
        "its author. Pseudonyms protect against casual linkage, not against a search of public text.\n"
        "- Automatic PII detection misses some cases (names in free text, unusual formats).\n"
        "- Posts that were later deleted may appear as context of `post_delete` threads, as in BluePrint.\n"
        "- Persona cards describe groups, but small clusters describe few people.",
        "## Removal requests\n"
        f"Anyone can ask for their data to be removed: {_removal_channel(context)}, giving your Bluesky DID "
        "(`did:plc:...` or `did:web:...`). Maintainers run `blueprint forget --did <DID>` (or "
        "`blueprint forget --list <file of DIDs, one per line>`), which records the opt-out as a pseudonym, "
        "deletes every stored row made by or about the account, and excludes it from every later build; "
        "then they rebuild the release with `blueprint release --months <window>` and publish the rebuilt "
        "folder.",
        _splits_section(context),
        f"## Statistics\nTraining threads per action type (`{config_name(first)}`; every config has the same "
        "threads):\n\n" + counts_table(granularities[first]["stats"]),
        f"## License\nReleased under `{license_id}` (configurable per release).\n\n"
        + LICENSE_NOTE.format(license=license_id),
        citation_section(context, license_id),
    ]
    return yaml_header(granularities, context) + "\n" + "\n\n".join(sections) + "\n"
