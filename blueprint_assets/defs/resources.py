"""Resources: the outside world (event sources, the lake, the query engine, secrets, the encoder)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import duckdb
from dagster import ConfigurableResource, EnvVar
from dagster_duckdb import DuckDBResource
from pydantic import PrivateAttr

from blueprint_assets.lib.ingest.staging import LineSource
from blueprint_assets.lib.release.policy import QUOTE_MIN_CLUSTER_SIZE
from blueprint_assets.lib.sources.kinds import DEFAULT_SOURCE
from blueprint_assets.lib.storage.duck import configure
from blueprint_assets.lib.storage.lake import Lake
from blueprint_assets.lib.storage.storage import fetch_folder, join, publish_folder, register_with_duckdb
from blueprint_assets.settings import SECRET_ENV, DataLayout, Settings


def resolved(value: str | None) -> str | None:
    """A field's value: Dagster resolves an `EnvVar` when it runs a resource; used directly, it is resolved here."""
    return value.get_value() if isinstance(value, EnvVar) else value


def _by_name(variable: str, value: str | None) -> EnvVar | None:
    """`EnvVar(variable)` when the setting is set: the value itself never enters a resource's config."""
    return EnvVar(variable) if value else None


class LakeResource(ConfigurableResource):
    """Where the data lives: the `Lake` and every folder of the data root through `layout` (a `DataLayout`)."""

    data_dir: str
    scratch_dir: str | None = None  # Settings.scratch_dir: local stand-ins of an object store's folders

    def release_folder(self, name: str) -> Path:
        """The local folder of release `name`, holding its published version (fetched from an object store)."""
        layout = self.layout
        return fetch_folder(join(layout.releases, name), layout.releases_local / name)

    def publish_release(self, name: str) -> None:
        """Publish the local folder of release `name` to the store (a no-op for a local data dir)."""
        layout = self.layout
        publish_folder(layout.releases_local / name, join(layout.releases, name))

    @property
    def lake(self) -> Lake:
        return Lake(self.data_dir)

    @property
    def layout(self) -> DataLayout:
        """Every folder of the data root (lib/storage/layout.py), the lake's included."""
        return DataLayout(self.data_dir, self.scratch_dir)


class PrivacyResource(ConfigurableResource):
    """The privacy policy: secret (never logged), NER switch, opt-out list.

    `secret` is `EnvVar("BLUEPRINT_SECRET")` when that is set; else the key file `<data_dir>/secret.key` is
    read or created (local data dirs only). Either way it is loaded once per resource instance (one per run
    in a process) and kept in a private attribute, never in config, logs or metadata.
    """

    data_dir: str
    secret: str | None = None
    ner: bool = False
    optout_file: str | None = None
    workers: int | None = None  # BLUEPRINT_WORKERS; None: one per usable core
    _secret_bytes: bytes | None = PrivateAttr(default=None)

    def secret_bytes(self) -> bytes:
        """The pseudonymization secret, loaded on first use."""
        if self._secret_bytes is None:
            from blueprint_assets.lib.privacy.pseudonyms import load_or_create_secret

            self._secret_bytes = load_or_create_secret(self.data_dir, resolved(self.secret))
        return self._secret_bytes

    def pseudonymizer(self):
        """A pseudonymizer for this process (built here: it refuses to be pickled across processes)."""
        from blueprint_assets.lib.privacy.pseudonyms import Pseudonymizer

        return Pseudonymizer(self.secret_bytes())

    def worker_count(self) -> int:
        """Processes for the Python-bound work: anonymization, the scans and thread-id hashing (lib/parallel.py)."""
        from blueprint_assets.lib.parallel import workers

        return workers(self.workers)

    def secret_for_scans(self) -> bytes:
        return self.secret_bytes()

    def opted_out(self, pseudonym) -> set[str]:
        """Pseudonyms of opted-out accounts: the removal log plus the configured list file."""
        from blueprint_assets.lib.privacy.optout import listed_dids, logged_optouts

        return logged_optouts(DataLayout(self.data_dir).state) | {
            pseudonym(d) for d in listed_dids(self.optout_file)
        }

    def opted_out_handles(self) -> set[str]:
        """Pseudonyms of the handles `blueprint forget` found for the accounts it removed."""
        from blueprint_assets.lib.privacy.optout import logged_handles

        return logged_handles(DataLayout(self.data_dir).state)

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
    torch_threads: int | None = None  # BLUEPRINT_TORCH_THREADS; None: 1 (lib/personas/encoder.py)
    cache_dir: str | None = (
        None  # default: Settings.model_cache_dir (BLUEPRINT_MODEL_CACHE, else <data>/models)
    )

    @property
    def resolved_cache_dir(self) -> str:
        return self.cache_dir or Settings.from_env().model_cache_dir

    @property
    def model_key(self) -> str:
        """What determines the vectors (the same string as the loaded encoder's `model_id`)."""
        from blueprint_assets.lib.personas.encoder import encoder_model_id

        return encoder_model_id(self.model_name, self.pooling, self.max_tokens)

    @property
    def dim(self) -> int:
        return self.encoder().dim

    def encoder(self):
        from blueprint_assets.lib.personas.encoder import encoder_for, set_torch_threads

        set_torch_threads(self.torch_threads)
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
    quote_min_cluster_size: int = QUOTE_MIN_CLUSTER_SIZE  # smaller clusters' cards quote no findable post
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
        `data_root` (None: a local one) its URLs are readable and writable through pyarrow.fs.
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

    kind: str = DEFAULT_SOURCE
    path: str | None = None
    url: str | None = None
    dids: list[str] | None = None
    actors: list[str] | None = None
    base_url: str | None = None
    collections: list[str] | None = None
    exclude: list[str] | None = None  # archive files to skip (globs); hidden files are always skipped
    # Retry and failure knobs; None keeps the default of lib/sources/source_lines.py `SourceOptions`.
    max_retries: int | None = None
    backoff: float | None = None
    idle_timeout: float | None = None
    open_timeout: float | None = None
    skip_failed_repos: bool | None = None
    # The author feed's login, by name (EnvVar) so neither enters the run's config or the UI.
    bsky_handle: str | None = None
    bsky_password: str | None = None
    scratch_dir: str | None = None  # Settings.scratch_dir: where the author feed's session is kept

    def line_sources(
        self, days: list[str], state_dir: str | Path, stats=None, progress=None
    ) -> Iterable[LineSource]:
        """Lines of every input that may hold events of `days` (or report bad lines for them).

        `stats` (a `lib.sources.source_lines.SourceStats`) is filled while the lines are read; `progress` gets
        one-line progress messages.
        """
        from blueprint_assets.lib.sources.source_lines import SourceOptions, line_sources_for

        where = self.model_dump(
            include={"path", "url", "dids", "actors", "base_url", "collections", "exclude"}
        )
        return line_sources_for(
            self.kind,
            days=days,
            state_dir=state_dir,
            options=SourceOptions.from_config(self),
            stats=stats,
            progress=progress,
            **where,
            login=(resolved(self.bsky_handle), resolved(self.bsky_password)),
            scratch_dir=self.scratch_dir,
        )


def build_resources(settings: Settings | None = None) -> dict:
    """Resources from a `Settings` (default: `Settings.from_env()`, the BLUEPRINT_* environment)."""
    settings = settings or Settings.from_env()
    data_dir = settings.data_dir
    return {
        "lake": LakeResource(data_dir=data_dir, scratch_dir=settings.scratch_dir),
        "query_engine": QueryEngine(database=":memory:"),
        "privacy": PrivacyResource(
            data_dir=data_dir,
            # By name, so the value never enters the run's config (the UI shows the variable's name only).
            secret=_by_name(SECRET_ENV, settings.secret),
            ner=settings.ner,
            optout_file=settings.optout_file,
            workers=settings.workers,
        ),
        "source": EventSourceResource(
            kind=settings.source,
            path=settings.archive_dir,
            url=settings.source_url,
            dids=_listed(settings.source_dids),
            actors=_listed(settings.source_actors),
            **settings.source_options,
            exclude=_listed(settings.source_exclude),
            bsky_handle=_by_name("BLUEPRINT_BSKY_HANDLE", settings.bsky_handle),
            bsky_password=_by_name("BLUEPRINT_BSKY_APP_PASSWORD", settings.bsky_password),
            scratch_dir=settings.scratch_dir,
        ),
        "encoder": EncoderResource(
            model_name=settings.encoder,
            cache_dir=settings.model_cache_dir,
            torch_threads=settings.torch_threads,
        ),
        "settings": ReleaseSettings(
            ks=list(settings.ks),
            min_cluster_size=settings.min_cluster_size,
            keywords_file=settings.keywords_file,
            require_keywords=settings.require_keywords,
            split_strategy=settings.split,
            stable_ids=settings.stable_ids,
            contact=settings.contact,
            gated=settings.gated,
            quote_min_cluster_size=settings.quote_min_cluster_size,
        ),
    }


def _listed(values: tuple[str, ...] | None) -> list[str] | None:
    return list(values) if values else None
