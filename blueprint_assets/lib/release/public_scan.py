"""The blocking scan of a finished `public/` folder for hidden answers (the rules: lib/release/answer_leaks.py).

Every file under `public/` is read: Parquet and JSON-lines files as rows (through Arrow where it reads them
faithfully, else line by line), any other file whole. A row file's rows must not carry a hidden thread's
action or last message (the structure rule), and none of its strings may hold an answer's text; a whole
file must not hold one anywhere. The distinct strings of many row files are screened together, each once:
a split's Parquet and JSON-lines files, and the configs of every K, publish the same texts. Only strings
that could hold an answer are screened (`AnswerIndex.may_hold`: the ids, most of a release's distinct
strings, cannot). A batch is closed at `BATCH_STRINGS` distinct strings or `BATCH_BYTES` held, so memory
follows a batch, not the whole folder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from blueprint_assets.lib.privacy.scans import row_file_table, table_strings
from blueprint_assets.lib.release.answer_leaks import AnswerIndex, nested_strings, row_structure_leak

_SKIPPED_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".ico"}
BATCH_STRINGS = 2_000_000  # distinct strings screened at once (a few hundred MB as Python strings)
BATCH_BYTES = 1 << 30  # and at most this much of the files' strings held in Arrow while a batch fills


def _rows(path: Path) -> list[dict[str, Any]] | None:
    """A JSON-lines file row by row (a line that is not a JSON object is a row of its text), else None."""
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


def _structure_leaks(name: str, table: pa.Table, hidden_ids: set[str]) -> list[str]:
    """`row_structure_leak` findings of a table, over the rows that carry a hidden id: column-wise where the
    table has the published shape (string ids, a list of message structs), else row by row."""
    if "id" not in table.column_names or not hidden_ids:
        return []
    ids = table.column("id")
    if not (pa.types.is_string(ids.type) or pa.types.is_large_string(ids.type)):
        return _row_structure_findings(name, table.to_pylist(), hidden_ids)
    # A set lookup per row, not `pc.is_in`: that builds a hash table of every hidden id of the release for
    # each file, and a release at K = 1000 has thousands of small files.
    hidden = np.fromiter((i in hidden_ids for i in ids.to_pylist()), dtype=bool, count=table.num_rows)
    table = table.filter(pa.array(hidden, pa.bool_()))
    last_carries = _last_message_carries(table)
    if last_carries is None:
        return _row_structure_findings(name, table.to_pylist(), hidden_ids)
    carries = np.zeros(table.num_rows, dtype=bool)
    for column in ("action", "actions"):
        if column in table.column_names:
            carries |= table.column(column).is_valid().to_numpy(zero_copy_only=False)
    findings = []
    for row in np.flatnonzero(carries | last_carries).tolist():
        reason = "carries its action" if carries[row] else "last message carries its action or text"
        findings.append(f"{name}: hidden thread {str(table.column('id')[row].as_py())[:12]}… {reason}")
    return findings


def _last_message_carries(table: pa.Table) -> np.ndarray | None:
    """Per row, whether its thread's last message has an action or a text (None: `thread` is not a list of
    structs, so only the row-by-row reading applies)."""
    if "thread" not in table.column_names:
        return np.zeros(table.num_rows, dtype=bool)
    thread = table.column("thread").combine_chunks()
    if not (pa.types.is_list(thread.type) or pa.types.is_large_list(thread.type)):
        return None
    if not pa.types.is_struct(thread.type.value_type):
        return None
    offsets = thread.offsets.to_numpy(zero_copy_only=False).astype(np.int64)
    has_last = thread.is_valid().to_numpy(zero_copy_only=False) & (offsets[1:] > offsets[:-1])
    carries = np.zeros(table.num_rows, dtype=bool)
    if not has_last.any():
        return carries
    messages = thread.values
    last = pa.array(offsets[1:][has_last] - 1)
    fields = dict(
        zip([f.name for f in messages.type], messages.flatten(), strict=True)
    )  # a null message: null fields
    found = np.zeros(int(has_last.sum()), dtype=bool)
    for key in ("actions", "text"):
        if key in fields:
            found |= fields[key].take(last).is_valid().to_numpy(zero_copy_only=False)
    carries[has_last] = found
    return carries


def _row_structure_findings(name: str, rows: list[dict[str, Any]], hidden_ids: set[str]) -> list[str]:
    findings = []
    for row in rows:
        reason = row_structure_leak(row, hidden_ids)
        if reason:
            findings.append(f"{name}: hidden thread {str(row['id'])[:12]}… {reason}")
    return findings


@dataclass
class _Scanned:
    """One file's findings so far, and what is left to screen: its distinct strings (a row file) or the
    answers its whole text holds (any other file)."""

    name: str
    findings: list[str] = field(default_factory=list)
    strings: pa.Array | None = None
    hits: list[str] = field(default_factory=list)


def scan_public(public: Path, index: AnswerIndex) -> list[str]:
    """Findings (file: reason), in file order; empty when no hidden answer appears anywhere under `public`."""
    findings: list[str] = []
    batch: list[_Scanned] = []
    pending = held = 0  # strings of the batch's files (some the same), and their Arrow bytes
    recount_at = BATCH_STRINGS
    for path in sorted(p for p in public.rglob("*") if p.is_file()):
        scanned = _scan_file(path, path.relative_to(public), index)
        if scanned is None:
            continue
        batch.append(scanned)
        if scanned.strings is not None:
            pending += len(scanned.strings)
            held += scanned.strings.nbytes
        full = held >= BATCH_BYTES
        if not full and pending >= recount_at:
            # Settling turns the batch's distinct strings into Python strings; the configs of every K publish
            # the same texts, so count those before closing the batch on a sum of repeats, and count again
            # only after another BATCH_STRINGS have come in.
            full = len(_union(batch)) >= BATCH_STRINGS
            recount_at = pending + BATCH_STRINGS
        if full:
            findings += _settled(batch, index)
            batch, pending, held, recount_at = [], 0, 0, BATCH_STRINGS
    return findings + _settled(batch, index)


def _union(batch: list[_Scanned]) -> pa.Array:
    """The distinct strings of a batch's files."""
    arrays = [s.strings for s in batch if s.strings is not None and len(s.strings)]
    return (
        pc.unique(pa.chunked_array(arrays, pa.large_string())) if arrays else pa.array([], pa.large_string())
    )


def _scan_file(path: Path, relative: Path, index: AnswerIndex) -> _Scanned | None:
    """A file's structure findings and its strings to screen (None: an image, not scanned)."""
    scanned = _Scanned(relative.as_posix())
    if "answers" in relative.parts[:-1]:
        scanned.findings.append(f"{scanned.name}: an answers folder inside public/")
    if path.suffix.lower() in _SKIPPED_SUFFIXES:
        return scanned if scanned.findings else None
    table, rows = None, None
    try:
        table = row_file_table(path)
        rows = _rows(path) if table is None else None
    except (OSError, ValueError) as exc:  # pyarrow.ArrowInvalid is a ValueError
        scanned.findings.append(
            f"{scanned.name}: unreadable ({type(exc).__name__}), so it cannot be shown free of answers"
        )
    # Each string of a row on its own, as the writer screens them: joined, the end of one message and
    # the start of the next could read as an answer that no message holds.
    if table is not None:
        scanned.findings += _structure_leaks(scanned.name, table, index.ids)
        scanned.strings = _screened_strings(table_strings(table), index)
    elif rows is not None:
        scanned.findings += _row_structure_findings(scanned.name, rows, index.ids)
        scanned.strings = _screened_strings(pa.array(nested_strings(rows), pa.large_string()), index)
    else:
        text = path.read_text(encoding="utf-8", errors="replace")
        scanned.hits = index.hits(text, markdown=path.suffix == ".md")
    return scanned


def _screened_strings(strings: pa.Array, index: AnswerIndex) -> pa.Array:
    """The distinct strings that could hold an answer (`AnswerIndex.may_hold`: no empty string, no id), as
    one Arrow array (compact: no Python object per string)."""
    return pc.unique(index.may_hold(pc.cast(strings, pa.large_string())))


def _settled(batch: list[_Scanned], index: AnswerIndex) -> list[str]:
    """The batch's findings, file by file: its own, then the answers its strings hold."""
    found = index.found_in(_union(batch).to_pylist())
    held = pa.array(sorted(found), pa.large_string())
    findings = []
    for scanned in batch:
        hits = scanned.hits
        if scanned.strings is not None and found:
            hit_strings = scanned.strings.filter(pc.is_in(scanned.strings, value_set=held)).to_pylist()
            hits = sorted({i for s in hit_strings for i in found[s]})
        findings += scanned.findings
        if hits:
            findings.append(
                f"{scanned.name}: holds the text of {len(hits)} hidden answer(s), e.g. {hits[0][:12]}…"
            )
    return findings
