"""Proof that the public release holds no hidden answer: neither a validation/test action nor its text.

Two rules, used both when the release is written (threads that would reveal an answer are dropped) and by
the blocking check over the finished `public/` folder:
- structure: a row whose id is a hidden thread's id has no `action`/`actions` key and its last message has
  neither `actions` nor `text`; no file lives under an `answers/` folder;
- text: no answer text (whitespace-normalised, at least MIN_CHARS long; Markdown escapes undone) occurs
  in any public file. Shorter texts ("lol", "yes") are too common to identify an answer and are skipped.
Matching is a sliding-window lookup of each answer's first MIN_CHARS characters, then a full comparison,
so the scan is linear in the size of the public folder whatever the number of answers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

MIN_CHARS = 16
# A persona card truncates a post near 280 characters; compare at most this much of an answer.
MAX_COMPARED = 270
_MD_ESCAPE_RE = re.compile(r"\\([\\`*_\[\]<>#|~])")
_SKIPPED_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".ico"}


def normalise(text: str) -> str:
    return " ".join(text.split())


class AnswerIndex:
    """Hidden answer texts, searchable inside any larger text in linear time."""

    def __init__(self, answers: Iterable[Mapping[str, Any]]) -> None:
        # prefix -> length -> full text -> ids: a position costs one lookup per distinct answer length
        # sharing its prefix, not one comparison per answer (answers often share an opening).
        self.by_prefix: dict[str, dict[int, dict[str, list[str]]]] = {}
        self.ids: set[str] = set()
        for answer in answers:
            self.ids.add(str(answer["id"]))
            text = normalise(answer.get("text") or "")[:MAX_COMPARED]
            if len(text) >= MIN_CHARS:
                by_length = self.by_prefix.setdefault(text[:MIN_CHARS], {})
                by_length.setdefault(len(text), {}).setdefault(text, []).append(str(answer["id"]))

    def __len__(self) -> int:
        return len(self.ids)

    def hits(self, haystack: str, markdown: bool = False) -> list[str]:
        """Ids of answers whose text occurs in `haystack`."""
        if not self.by_prefix:
            return []
        text = normalise(_MD_ESCAPE_RE.sub(r"\1", haystack) if markdown else haystack)
        found: list[str] = []
        prefixes = self.by_prefix
        for start in range(len(text) - MIN_CHARS + 1):
            bucket = prefixes.get(text[start : start + MIN_CHARS])
            if bucket:
                for length, texts in bucket.items():
                    found += texts.get(text[start : start + length], ())
        return sorted(set(found))


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def row_structure_leak(row: Mapping[str, Any], hidden_ids: set[str]) -> str | None:
    """Why a published row reveals a hidden answer's action or text, or None."""
    if str(row.get("id")) not in hidden_ids:
        return None
    if row.get("action") is not None or row.get("actions") is not None:
        return "carries its action"
    messages = row.get("thread") or []
    last = messages[-1] if messages else {}
    if isinstance(last, Mapping) and (last.get("actions") is not None or last.get("text") is not None):
        return "last message carries its action or text"
    return None


def _rows(path: Path) -> list[dict[str, Any]] | None:
    if path.suffix == ".parquet":
        return pq.read_table(path, partitioning=None).to_pylist()
    if path.suffix == ".jsonl":
        rows = []
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                value = json.loads(line)
            except json.JSONDecodeError:
                value = line
            rows.append(value if isinstance(value, dict) else {"value": value})
        return rows
    return None


def scan_public(public: Path, index: AnswerIndex) -> list[str]:
    """Findings (file: reason), empty when no hidden answer appears anywhere under `public`."""
    findings: list[str] = []
    for path in sorted(p for p in public.rglob("*") if p.is_file()):
        name = path.relative_to(public).as_posix()
        if "answers" in path.relative_to(public).parts[:-1]:
            findings.append(f"{name}: an answers folder inside public/")
        if path.suffix.lower() in _SKIPPED_SUFFIXES:
            continue
        try:
            rows = _rows(path)
        except (OSError, ValueError) as exc:  # pyarrow.ArrowInvalid is a ValueError
            findings.append(
                f"{name}: unreadable ({type(exc).__name__}), so it cannot be shown free of answers"
            )
            rows = None
        if rows is None:
            text, markdown = path.read_text(encoding="utf-8", errors="replace"), path.suffix == ".md"
        else:
            for row in rows:
                reason = row_structure_leak(row, index.ids)
                if reason:
                    findings.append(f"{name}: hidden thread {str(row['id'])[:12]}… {reason}")
            text, markdown = "\n".join(s for row in rows for s in _strings(row)), False
        hits = index.hits(text, markdown=markdown)
        if hits:
            findings.append(f"{name}: holds the text of {len(hits)} hidden answer(s), e.g. {hits[0][:12]}…")
    return findings


def load_answer_rows(files: Iterable[Path]) -> list[dict[str, Any]]:
    rows = []
    for file in files:
        rows += [json.loads(line) for line in file.read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows
