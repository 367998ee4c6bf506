"""Resources: the outside world (event sources, the lake, the query engine, secrets, the encoder)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import duckdb
from dagster import ConfigurableResource
from dagster_duckdb import DuckDBResource

from blueprint_assets.lib.ingest.staging import LineSource
from blueprint_assets.lib.personas.static_encoder import model_cache_dir
from blueprint_assets.lib.storage.duck import configure
from blueprint_assets.lib.storage.lake import Lake
from blueprint_assets.lib.storage.storage import (
    fetch_folder,
    join,
    local_folder,
    normalize_root,
    publish_folder,
    register_with_duckdb,
)


def default_data_dir() -> str:
    return os.environ.get("BLUEPRINT_DATA_DIR", "data")


class LakeResource(ConfigurableResource):
    """Where the data lives: `<data_dir>/lake`, `<data_dir>/releases`, `<data_dir>/state`."""

    data_dir: str

    @property
    def lake(self) -> Lake:
        return Lake(self.data_dir)

    @property
    def root(self) -> str:
        """The data root: an absolute local path or an object-store URL."""
        return normalize_root(self.data_dir)

    @property
    def state_dir(self) -> str:
        """Shared state (archive index, opt-outs, cursors): `<data_dir>/state`, in the store."""
        return join(self.root, "state")

    @property
    def scratch_dir(self) -> Path:
        """Local, unshared working space (DuckDB spill, staging): `<data_dir>/state` when local."""
        return local_folder(self.state_dir)

    @property
    def releases_store(self) -> str:
        """Where releases are kept: `<data_dir>/releases`, in the store."""
        return join(self.root, "releases")

    @property
    def releases_dir(self) -> Path:
        """Local folder releases are built in: the releases themselves when local, else staging."""
        return local_folder(self.releases_store)

    def release_folder(self, name: str) -> Path:
        """The local folder of release `name`, holding its published version (fetched from an object store)."""
        return fetch_folder(join(self.releases_store, name), self.releases_dir / name)

    def publish_release(self, name: str) -> None:
        """Publish the local folder of release `name` to the store (a no-op for a local data dir)."""
        publish_folder(self.releases_dir / name, join(self.releases_store, name))


class PrivacyResource(ConfigurableResource):
    """The privacy policy: secret (never logged), NER switch, opt-out list."""

    data_dir: str
    ner: bool = False
    optout_file: str | None = None

    def pseudonymizer(self):
        """A pseudonymizer for this process (built here: it refuses to be pickled across processes)."""
        from blueprint_assets.lib.privacy.pseudonyms import Pseudonymizer

        return Pseudonymizer.from_data_dir(self.data_dir)

    def secret_for_scans(self) -> bytes:
        from blueprint_assets.lib.privacy.pseudonyms import load_or_create_secret

        return load_or_create_secret(self.data_dir)

    def opted_out(self, pseudonym) -> set[str]:
        """Pseudonyms of opted-out accounts: the removal log plus the configured list file."""
        from blueprint_assets.lib.privacy.optout import listed_dids, logged_optouts

        return logged_optouts(join(normalize_root(self.data_dir), "state")) | {
            pseudonym(d) for d in listed_dids(self.optout_file)
        }

    @property
    def ner_policy(self) -> str:
        return (
            "NER on: PERSON and LOCATION removed"
            if self.ner
            else "NER off: names and places are kept (BluePrint's policy)"
        )


class EncoderResource(ConfigurableResource):
    """The post encoder: "default" is the static model2vec model distilled from the bundled
    all-MiniLM-L6-v2 (built once under `cache_dir`); "minilm" or any sentence-transformers name selects a
    transformer (see lib/personas/encoder.py)."""

    model_name: str = "default"
    pooling: str = "mean"
    max_tokens: int = 256
    batch_size: int = 64
    cache_dir: str | None = None  # default: BLUEPRINT_MODEL_CACHE, else <BLUEPRINT_DATA_DIR>/models

    @property
    def resolved_cache_dir(self) -> str:
        from blueprint_assets.lib.personas.static_encoder import model_cache_dir

        return self.cache_dir or model_cache_dir(default_data_dir())

    @property
    def model_key(self) -> str:
        """What determines the vectors (the same string as the loaded encoder's `model_id`)."""
        from blueprint_assets.lib.personas.encoder import encoder_model_id

        return encoder_model_id(self.model_name, self.pooling, self.max_tokens)

    @property
    def dim(self) -> int:
        return self.encoder().dim

    def encoder(self):
        from blueprint_assets.lib.personas.encoder import encoder_for

        loaded = encoder_for(
            self.model_name, self.resolved_cache_dir, self.pooling, self.max_tokens, self.batch_size
        )
        if loaded.model_id != self.model_key:
            raise RuntimeError("encoder settings and loaded model disagree; vectors would not be re-usable")
        return loaded


class ReleaseSettings(ConfigurableResource):
    """How a release is scoped, clustered, threaded and split (defaults follow BluePrint)."""

    k: int = 25
    ks: list[int] = []  # several granularities (BLUEPRINT_K=2,25,100,1000); empty: just `k`
    min_cluster_size: int = 10
    seed: int = 42
    min_english_posts: int = 2
    keywords_file: str | None = None
    require_keywords: bool = False
    behaviour_weight: float = 0.0
    max_depth: int = 5
    split_strategy: str = "temporal"
    train_fraction: float = 0.8
    validation_fraction: float = 0.1
    stable_ids: bool = False
    license: str = "cc-by-4.0"
    contact: str = ""  # BLUEPRINT_CONTACT: where removal requests and questions go (required to publish)
    gated: bool = False  # BLUEPRINT_GATED=1: the card asks for gated access on the Hub (extra_gated_*)

    @property
    def granularities(self) -> list[int]:
        """The K values of the release, ascending and distinct."""
        return sorted({int(k) for k in (self.ks or [self.k])})

    @property
    def fractions(self) -> tuple[float, float, float]:
        test = round(1.0 - self.train_fraction - self.validation_fraction, 10)
        return (self.train_fraction, self.validation_fraction, test)


class QueryEngine(DuckDBResource):
    """DuckDB over the lake's Parquet files, with bounded memory and a spill folder."""

    def configured_connection(self, spill_dir: Path, data_root: str | None = None):
        """A context manager yielding a configured DuckDB connection.

        Tables it creates live in a throwaway DuckDB file under `spill_dir` (deleted on exit), so large
        working tables are disk-backed and memory stays within the configured limit. With an object-store
        `data_root` (default: $BLUEPRINT_DATA_DIR) its URLs are readable and writable through pyarrow.fs.
        """
        return _ConfiguredConnection(self, spill_dir, data_root)


class _ConfiguredConnection:
    def __init__(self, engine: QueryEngine, spill_dir: Path, data_root: str | None = None) -> None:
        self._inner = engine.get_connection()
        self._spill_dir = spill_dir
        self._data_root = data_root
        self._work = None

    def __enter__(self) -> duckdb.DuckDBPyConnection:
        from blueprint_assets.lib.storage.duck import work_database

        con = self._inner.__enter__()
        try:
            configure(con, self._spill_dir)
            register_with_duckdb(con, self._data_root)
            self._work = work_database(con, self._spill_dir)
            self._work.__enter__()
        except BaseException:
            self._inner.__exit__(None, None, None)
            raise
        return con

    def __exit__(self, *exc) -> None:
        try:
            if self._work is not None:
                self._work.__exit__(*exc)
        finally:
            self._inner.__exit__(*exc)


class EventSourceResource(ConfigurableResource):
    """Where raw Jetstream-shaped events come from; every kind yields the same raw lines.

    Kinds: jetstream-archive and sample (a folder), jetstream-live (websocket `url`), car (a CAR file or
    folder in `path`, and/or `dids` fetched from `base_url`), author-feed (`actors`). See docs/sources.md.
    """

    kind: str = "jetstream-archive"
    path: str | None = None
    url: str | None = None
    dids: list[str] | None = None
    actors: list[str] | None = None
    base_url: str | None = None
    collections: list[str] | None = None
    exclude: list[str] | None = None  # archive files to skip (globs); hidden files are always skipped
    max_retries: int = 8
    backoff: float = 1.0
    idle_timeout: float = 60.0
    open_timeout: float = 10.0
    skip_failed_repos: bool = False

    def line_sources(
        self, days: list[str], state_dir: str | Path, stats=None, progress=None
    ) -> Iterable[LineSource]:
        """Lines of every input that may hold events of `days` (or report bad lines for them).

        `stats` (a `lib.sources.source_lines.SourceStats`) is filled while the lines are read; `progress` gets
        one-line progress messages.
        """
        from blueprint_assets.lib.sources.source_lines import SourceOptions, line_sources_for

        return line_sources_for(
            self.kind,
            days=days,
            state_dir=state_dir,
            path=self.path,
            url=self.url,
            dids=self.dids,
            actors=self.actors,
            base_url=self.base_url,
            collections=self.collections,
            options=SourceOptions.from_config(self),
            stats=stats,
            exclude=self.exclude,
            progress=progress,
        )


def _csv_env(name: str) -> list[str] | None:
    value = os.environ.get(name, "")
    return [item.strip() for item in value.split(",") if item.strip()] or None


# Network-source knobs: resource field -> (environment variable, type).
SOURCE_OPTION_ENV = {
    "idle_timeout": ("BLUEPRINT_SOURCE_IDLE_TIMEOUT", float),
    "max_retries": ("BLUEPRINT_SOURCE_MAX_RETRIES", int),
    "backoff": ("BLUEPRINT_SOURCE_BACKOFF", float),
}


def source_options(overrides: dict | None = None) -> dict:
    """Retry and timeout settings: the given values, else BLUEPRINT_SOURCE_* variables, else the defaults."""
    options = {}
    for name, (variable, cast) in SOURCE_OPTION_ENV.items():
        value = (overrides or {}).get(name)
        if value is None and os.environ.get(variable):
            try:
                value = cast(os.environ[variable])
            except ValueError:
                raise ValueError(f"{variable}={os.environ[variable]!r} is not a {cast.__name__}") from None
        if value is not None:
            options[name] = value
    return options


def parse_k_list(value: str) -> list[int]:
    """BLUEPRINT_K: one K (`25`) or a comma-separated list (`2,25,100,1000`), each a positive integer."""
    try:
        ks = sorted({int(part) for part in value.split(",") if part.strip()})
    except ValueError:
        raise ValueError(f"BLUEPRINT_K must be integers separated by commas, got {value!r}") from None
    if not ks or ks[0] < 1:
        raise ValueError(f"BLUEPRINT_K needs at least one K of 1 or more, got {value!r}")
    return ks


def build_resources(
    data_dir: str | None = None,
    source_kind: str | None = None,
    source_path: str | None = None,
    source_url: str | None = None,
    source_settings: dict | None = None,
    source_exclude: list[str] | None = None,
) -> dict:
    """Resources for a data directory; defaults come from the environment (BLUEPRINT_*)."""
    data_dir = data_dir or default_data_dir()
    kind = source_kind or os.environ.get("BLUEPRINT_SOURCE", "jetstream-archive")
    default_path = os.path.join(data_dir, "sample") if kind in ("jetstream-archive", "sample") else None
    return {
        "lake": LakeResource(data_dir=data_dir),
        "query_engine": QueryEngine(database=":memory:"),
        "privacy": PrivacyResource(
            data_dir=data_dir,
            ner=os.environ.get("BLUEPRINT_NER", "0") == "1",
            optout_file=os.environ.get("BLUEPRINT_OPTOUT_FILE") or None,
        ),
        "source": EventSourceResource(
            kind=kind,
            path=source_path or os.environ.get("BLUEPRINT_SOURCE_PATH") or default_path,
            url=source_url or os.environ.get("BLUEPRINT_SOURCE_URL") or None,
            dids=_csv_env("BLUEPRINT_SOURCE_DIDS"),
            actors=_csv_env("BLUEPRINT_SOURCE_ACTORS"),
            **source_options(source_settings),
            exclude=source_exclude or _csv_env("BLUEPRINT_SOURCE_EXCLUDE"),
        ),
        "encoder": EncoderResource(
            model_name=os.environ.get("BLUEPRINT_ENCODER", "default"), cache_dir=model_cache_dir(data_dir)
        ),
        "settings": ReleaseSettings(
            ks=parse_k_list(os.environ.get("BLUEPRINT_K", "25")),
            min_cluster_size=int(os.environ.get("BLUEPRINT_MIN_CLUSTER_SIZE", "10")),
            keywords_file=os.environ.get("BLUEPRINT_KEYWORDS_FILE") or None,
            require_keywords=os.environ.get("BLUEPRINT_REQUIRE_KEYWORDS", "0") == "1",
            split_strategy=os.environ.get("BLUEPRINT_SPLIT", "temporal"),
            stable_ids=os.environ.get("BLUEPRINT_STABLE_IDS", "0") == "1",
            contact=os.environ.get("BLUEPRINT_CONTACT", ""),
            gated=os.environ.get("BLUEPRINT_GATED", "0") == "1",
        ),
    }
