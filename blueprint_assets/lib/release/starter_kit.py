"""The starter kit written into public/: sample submissions, SUBMISSION.md and starter.ipynb.

- `{K}_clusters/sample_submission.jsonl`: one row per validation and test id of that config, in the format
  `blueprint score` reads (`id`, `split`, the 13 action booleans, `text`), every row the majority answer
  (the most frequent training action, with the most frequent training text of that action if it has text).
- `SUBMISSION.md`: the format, the metrics and how they are computed.
- `starter.ipynb`: load a config, look at a thread, run a baseline, write a submission, score it on
  validation (when the answer keys are beside the folder, as in a maintainer's or the demo's release).
Everything is a pure function of the published rows, so rebuilding gives the same bytes.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pyarrow as pa

from blueprint_assets.lib.actions_space import ACTION_ORDER, TEXT_ACTIONS
from blueprint_assets.lib.release.layout import config_name
from blueprint_assets.lib.release.published import last_actions, last_texts
from blueprint_assets.lib.release.splits import HIDDEN_SPLITS, SPLITS

SUBMISSION_FILE = "sample_submission.jsonl"


def majority_answer(train_rows: pa.Table) -> tuple[str, str]:
    """(most frequent training action, its most frequent training text or ""), ties in a fixed order."""
    actions = last_actions(train_rows)
    counts = Counter(actions)
    action = min(ACTION_ORDER, key=lambda a: (-counts.get(a, 0), ACTION_ORDER.index(a)))
    texts = Counter(t for a, t in zip(actions, last_texts(train_rows), strict=True) if a == action)
    texts.pop(None, None)
    text = min(texts, key=lambda t: (-texts[t], t)) if action in TEXT_ACTIONS and texts else ""
    return action, text


def sample_submission(rows: dict[str, pa.Table]) -> str:
    """The majority answer for every validation and test id (`rows`: published rows per split)."""
    action, text = majority_answer(rows["train"])
    lines = []
    for split in SPLITS:
        if split not in HIDDEN_SPLITS:
            continue
        for row_id in rows[split].column("id").to_pylist():
            record = {"id": row_id, "split": split, **{a: a == action for a in ACTION_ORDER}, "text": text}
            lines.append(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
    return "".join(line + "\n" for line in lines)


SUBMISSION_MD = """# Submitting predictions

## Format
One JSON object per line (`.jsonl`), or a CSV with the same columns, one row per thread id of the split:

```json
{"id": "<thread id>", "split": "validation", "post": false, "reply": false, "quote": false, "like": true,
 "unlike": false, "repost": false, "unrepost": false, "follow": false, "unfollow": false, "block": false,
 "unblock": false, "post_update": false, "post_delete": false, "text": ""}
```

- `id`: a thread id of `validation` or `test` (`{K}_clusters/data/{split}.parquet`); every id once.
- the 13 action names (ACTIONS): booleans (`true`/`false`, or `1`/`0` in CSV), **exactly one** true.
- `text`: the predicted text of the last message; used when the true action is `post`, `reply`, `quote` or
  `post_update`, ignored otherwise (may be empty).
- `split` (optional): rows of the other split are skipped, so one file can hold both splits, like
  `{K}_clusters/sample_submission.jsonl` (the majority answer for every id: a baseline to beat).
- `cluster_id` is tolerated and ignored. Unknown columns, missing ids, unknown ids, duplicate ids and rows
  with zero or several true actions are errors; all are reported at once.

## Metrics
`blueprint score --answers <release folder> --predictions <file> --split validation [--k K]` computes:

- **Action macro-F1**: F1 of each of the 13 actions (one-vs-rest over all items), averaged with equal weight;
  also over the **common** actions (the 2 most frequent in the answers) and the **rare** ones (the other 11),
  and **accuracy** (share of items whose action is right). Reported for the whole split and per cluster.
- **Text** (over the items whose true last message has text): the texts are embedded with
  all-MiniLM-L6-v2 unless `--encoder` names another (the report header names it). **Mean item cosine**: the cosine of each
  predicted text with its true text, averaged (an empty prediction counts 0). **Average-embedding cosine**:
  the cosine between the mean predicted embedding and the mean true embedding. **Max cosine**: for each true
  text, the best cosine with any predicted text, averaged. **JS divergence** (lower is better): between the
  histograms of pairwise distances among the predicted and among the true embeddings. **TF-IDF Jaccard**:
  overlap of the top-100 TF-IDF terms of the two sets. Reported for the whole split and per cluster.
- With `--matrix DIR` (one `cluster_<i>.jsonl` per cluster model), each cluster's model is scored on every
  cluster's items and the **diagonality** of each metric (how much better a model does on its own cluster)
  is reported, as in BluePrint.

`--compat blueprint` reproduces BluePrint's published metric code instead; the differences are listed in the
project's docs/scoring.md.

The test answers are kept by the maintainers: send them your test predictions to be scored.
"""

ACTIONS_LINE = ", ".join(f"`{a}`" for a in ACTION_ORDER)


def _cell(kind: str, source: str) -> dict[str, Any]:
    cell: dict[str, Any] = {
        "cell_type": kind,
        "metadata": {},
        "source": source.strip("\n").splitlines(keepends=True),
    }
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def starter_notebook(config: str) -> str:
    """A notebook run from the public folder (the Hub repository or releases/<window>/public)."""
    cells = [
        _cell(
            "markdown",
            "# BluePrint starter\nLoad a config, look at a thread, run a baseline, write a "
            "submission and score it on validation.",
        ),  # fmt: skip
        _cell(
            "code",
            f'''
from collections import Counter
from pathlib import Path
import hashlib
import json
import tempfile

import datasets

HERE = Path.cwd()  # the dataset folder (this notebook sits in it)
CONFIG = "{config}"
# datasets caches a local folder by its name: key the cache by the manifest so a rebuilt release is re-read.
CACHE = Path(tempfile.gettempdir()) / ("blueprint-" + hashlib.sha256((HERE / "MANIFEST.json").read_bytes()).hexdigest()[:16])
ds = datasets.load_dataset(str(HERE), CONFIG, cache_dir=str(CACHE))
print(ds)
''',
        ),
        _cell(
            "code",
            """
ACTIONS = ["post", "reply", "quote", "like", "unlike", "repost", "unrepost", "follow", "unfollow",
           "block", "unblock", "post_update", "post_delete"]
example = ds["train"][0]
print("thread", example["id"], "cluster", example["cluster_id"])
for message in example["thread"]:
    action = [a for a in ACTIONS if message["actions"] and message["actions"][a]]
    print(message["relative_integer_time"], message["user_id"][:8], action or "", (message["text"] or "")[:80])
""",
        ),
        _cell("markdown", "## A baseline: the most frequent action of each cluster in train"),
        _cell(
            "code",
            """
def last_action(row):
    flags = row["thread"][-1]["actions"]
    return next(a for a in ACTIONS if flags[a])

by_cluster = {}
for row in ds["train"]:
    by_cluster.setdefault(row["cluster_id"], Counter())[last_action(row)] += 1
overall = Counter(last_action(r) for r in ds["train"]).most_common(1)[0][0]
prior = {c: counts.most_common(1)[0][0] for c, counts in by_cluster.items()}
print("overall majority:", overall, "| per cluster:", prior)
""",
        ),
        _cell("markdown", "## Write a submission (validation and test in one file, see SUBMISSION.md)"),
        _cell(
            "code",
            """
import tempfile

submission = Path(tempfile.gettempdir()) / "blueprint_my_submission.jsonl"  # outside the dataset folder
with submission.open("w") as out:
    for split in ("validation", "test"):
        for row in ds[split]:
            action = prior.get(row["cluster_id"], overall)
            out.write(json.dumps({"id": row["id"], "split": split, **{a: a == action for a in ACTIONS}, "text": ""}) + "\\n")
print("wrote", submission)
""",
        ),
        _cell(
            "markdown",
            "## Score on validation\nThe answer keys are not in the public dataset; maintainers "
            "(and the demo) have them in `../private/`.",
        ),  # fmt: skip
        _cell(
            "code",
            f"""
private = HERE.parent / "private"
if private.is_dir():
    from blueprint_assets.cli import main as blueprint  # the `blueprint` command, as a function

    code = blueprint(["score", "--answers", str(HERE.parent), "--predictions", str(submission),
                      "--split", "validation", "--k", "{int(config.split("_")[0])}"])
    print("validation scored, exit code", code)
else:
    print("no answer keys here: send your test predictions to the maintainers to be scored")
""",
        ),
    ]
    notebook = {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    for i, cell in enumerate(notebook["cells"]):
        cell["id"] = f"cell-{i}"
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


def starter_files(info: dict[int, dict[str, Any]]) -> dict[str, str]:
    """{path under public/: content} of the starter kit, for write_release's `extra_files`."""
    files = {f"{config_name(k)}/{SUBMISSION_FILE}": sample_submission(i["rows"]) for k, i in info.items()}
    files["SUBMISSION.md"] = SUBMISSION_MD.replace("(ACTIONS)", f"({ACTIONS_LINE})")
    files["starter.ipynb"] = starter_notebook(config_name(min(info)))
    return files
