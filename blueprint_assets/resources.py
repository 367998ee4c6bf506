"""Resources: the outside world (event sources, the lake, the query engine, secrets, the encoder)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import duckdb
from dagster import ConfigurableResource
from dagster_duckdb import DuckDBResource

from blueprint_assets.core.archive import ArchiveIndex, day_bounds_us, open_lines
from blueprint_assets.core.ingest import LineSource, configure
from blueprint_assets.core.lake import Lake

SOURCE_KINDS = ("jetstream-archive", "sample")


def default_data_dir() -> str:
    return os.environ.get("BLUEPRINT_DATA_DIR", "data")


class LakeResource(ConfigurableResource):
    """Where the data lives: `<data_dir>/lake`, `<data_dir>/releases`, `<data_dir>/state`."""

    data_dir: str

    @property
    def lake(self) -> Lake:
        return Lake(self.data_dir)

    @property
    def state_dir(self) -> Path:
        return Path(self.data_dir) / "state"

    @property
    def releases_dir(self) -> Path:
        return Path(self.data_dir) / "releases"


class PrivacyResource(ConfigurableResource):
    """The privacy policy: secret (never logged), NER switch, opt-out list."""

    data_dir: str
    ner: bool = False
    optout_file: str | None = None

    def pseudonymizer(self):
        """A pseudonymizer for this process (built here: it refuses to be pickled across processes)."""
        from blueprint_assets.core.pseudonyms import Pseudonymizer

        return Pseudonymizer.from_data_dir(Path(self.data_dir))

    def secret_for_scans(self) -> bytes:
        from blueprint_assets.core.pseudonyms import load_or_create_secret

        return load_or_create_secret(Path(self.data_dir))

    def opted_out(self, pseudonym) -> set[str]:
        """Pseudonyms of opted-out accounts: the removal log plus the configured list file."""
        from blueprint_assets.core.optout import listed_dids, logged_optouts

        return logged_optouts(Path(self.data_dir) / "state") | {
            pseudonym(d) for d in listed_dids(self.optout_file)
        }

    @property
    def ner_policy(self) -> str:
        return (
            "NER on: PERSON and LOCATION removed"
            if self.ner
            else "NER off: names and places are kept (BluePrint's policy)"
        )


class QueryEngine(DuckDBResource):
    """DuckDB over the lake's Parquet files, with bounded memory and a spill folder."""

    def configured_connection(self, spill_dir: Path):
        """A context manager yielding a configured DuckDB connection."""
        return _ConfiguredConnection(self, spill_dir)


class _ConfiguredConnection:
    def __init__(self, engine: QueryEngine, spill_dir: Path) -> None:
        self._inner = engine.get_connection()
        self._spill_dir = spill_dir

    def __enter__(self) -> duckdb.DuckDBPyConnection:
        con = self._inner.__enter__()
        configure(con, self._spill_dir)
        return con

    def __exit__(self, *exc) -> None:
        self._inner.__exit__(*exc)


class EventSourceResource(ConfigurableResource):
    """Where raw Jetstream-shaped events come from; every kind yields the same raw lines."""

    kind: str = "jetstream-archive"
    path: str = "data/sample"

    def line_sources(self, days: list[str], state_dir: Path) -> Iterable[LineSource]:
        """Lines of every file that may hold events of `days` (or report bad lines for them)."""
        if self.kind not in SOURCE_KINDS:
            raise ValueError(f"unknown source kind {self.kind!r}; expected one of {', '.join(SOURCE_KINDS)}")
        root = Path(self.path)
        index = ArchiveIndex(root, state_dir / f"archive_index_{_slug(root)}.json")
        start_us, _ = day_bounds_us(days[0])
        _, end_us = day_bounds_us(days[-1])
        for entry in index.files_for_window(start_us, end_us, set(days)):
            yield entry.relpath, entry.home_day, open_lines(root / entry.relpath)


def _slug(path: Path) -> str:
    """A short stable name for a folder, for cache files (a hash: paths can hold user names)."""
    import hashlib

    return hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]
