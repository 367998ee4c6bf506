"""`blueprint publish`: upload a release's public/ folder to the Hugging Face Hub, and only when it is safe.

`upload_plan` lists exactly what would be uploaded (the files of public/MANIFEST.json plus the manifest,
with sizes and SHA-256). `refusals` gives every reason not to publish:
- a manifest or no-answers check fails now (public/ or private/ changed since the build, or an answer
  reached public/), or the privacy audit is missing or did not pass (the audit only runs after every
  blocking privacy and manifest check of the release passed, so its absence means one failed);
- the release was built from the synthetic sample (card header `blueprint.synthetic_sample`);
- something under private/ would be included (a symlink into it, a file identical to a private file, a
  `private`/`answers` path);
- the card lacks its licence, citation or contact.
`upload` calls `HfApi.upload_folder` with the plan as `allow_patterns`; it needs the network and a token
(`HF_TOKEN` or `huggingface-cli login`), so it is documented and not tested.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from blueprint_assets.lib.release.answer_leaks import AnswerIndex, load_answer_rows
from blueprint_assets.lib.release.files import MANIFEST, verify_manifest
from blueprint_assets.lib.release.files import sha256_file as _sha256
from blueprint_assets.lib.release.layout import answer_files, audit_dir, private_dir, public_dir
from blueprint_assets.lib.release.provenance import card_header, card_problems
from blueprint_assets.lib.release.public_scan import scan_public

AUDIT_FILE = "privacy_audit.md"


@dataclass(frozen=True)
class UploadFile:
    path: str  # relative to public/
    size: int
    sha256: str


def upload_plan(release: Path) -> list[UploadFile]:
    """Every file that would be uploaded: what public/MANIFEST.json lists, and the manifest itself."""
    public = public_dir(release)
    manifest_path = public / MANIFEST
    if not manifest_path.is_file():
        raise FileNotFoundError(f"{manifest_path} not found: build the release first (`blueprint release`)")
    names = sorted(json.loads(manifest_path.read_text(encoding="utf-8"))) + [MANIFEST]
    return [
        UploadFile(n, (public / n).stat().st_size, _sha256(public / n))
        for n in names
        if (public / n).is_file()
    ]


def _private_inclusions(release: Path, plan: list[UploadFile]) -> list[str]:
    public, private = public_dir(release).resolve(), private_dir(release).resolve()
    private_files = [p for p in private.rglob("*") if p.is_file()] if private.is_dir() else []
    private_hashes = {_sha256(p) for p in private_files if p.stat().st_size}
    found = []
    for item in plan:
        resolved = (public / item.path).resolve()
        parts = {part.lower() for part in Path(item.path).parts[:-1]}
        if resolved.is_relative_to(private) or not resolved.is_relative_to(public):
            found.append(
                f"private: {item.path} resolves outside public/ ({'into private/' if resolved.is_relative_to(private) else 'elsewhere'})"
            )
        elif parts & {"private", "answers"}:
            found.append(f"private: {item.path} sits in a private/answers folder")
        elif item.path != MANIFEST and item.size and item.sha256 in private_hashes:
            found.append(f"private: {item.path} is a copy of a private file")
    return found


def _audit_problems(release: Path) -> list[str]:
    audit = audit_dir(release) / AUDIT_FILE
    if not audit.is_file():
        return [
            "checks: no privacy audit (a blocking privacy or manifest check failed, or the build did not finish)"
        ]
    if "Verdict: PASS" not in audit.read_text(encoding="utf-8"):
        return [f"checks: the privacy audit's verdict is not PASS (read {audit})"]
    return []


def refusals(release: Path) -> list[str]:
    """Every reason not to publish `release` (empty: safe to upload public/)."""
    release = Path(release)
    public = public_dir(release)
    if not public.is_dir():
        return [f"layout: {public} does not exist (build the release first)"]
    problems = [f"manifest: {p}" for p in verify_manifest(release)]
    index = AnswerIndex(load_answer_rows(answer_files(release)))
    problems += [f"answers: {p}" for p in scan_public(public, index)]
    problems += _audit_problems(release)
    card_path = public / "README.md"
    card = card_path.read_text(encoding="utf-8") if card_path.is_file() else ""
    if (card_header(card).get("blueprint") or {}).get("synthetic_sample"):
        problems.append("synthetic: this release was built from the synthetic sample, not real data")
    problems += [f"card: {p}" for p in card_problems(card)]
    if (public / MANIFEST).is_file():
        problems += _private_inclusions(release, upload_plan(release))
    return problems


def format_plan(plan: list[UploadFile], repo: str, private: bool) -> str:
    total = sum(f.size for f in plan)
    lines = [
        f"would upload {len(plan)} files ({total} bytes) to dataset {repo} ({'private' if private else 'public'} repo):"
    ]
    lines += [f"  {f.sha256}  {f.size:>12}  {f.path}" for f in plan]
    return "\n".join(lines)


def upload(release: Path, repo: str, private: bool, token: str | None = None) -> str:
    """Create the dataset repo if needed and upload exactly the plan's files; returns the commit URL."""
    from huggingface_hub import HfApi

    plan = upload_plan(release)
    api = HfApi(token=token)
    api.create_repo(repo, repo_type="dataset", private=private, exist_ok=True)
    info = api.upload_folder(
        repo_id=repo, repo_type="dataset", folder_path=str(public_dir(release)),
        allow_patterns=[f.path for f in plan], commit_message=f"BluePrint release {Path(release).name}",
    )  # fmt: skip
    return str(getattr(info, "commit_url", info))
