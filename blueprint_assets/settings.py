"""Settings: the one reader of the `BLUEPRINT_*` environment, and `DataLayout`, the names of every data folder.

`Settings.from_env(os.environ, **flags)` reads the environment once; CLI flags passed as overrides win over
it (a flag left unset, None, does not). Everything downstream takes its values from a `Settings`: the
resources (defs/resources.py `build_resources`), the CLI and the sensor. Pure code in `lib/` never reads
the environment for these values; it gets them as parameters. The README's configuration table lists
exactly the variables read here (tests/test_settings.py checks both ways).

The secret is kept out of `repr`; it reaches the privacy resource through Dagster's `EnvVar("BLUEPRINT_SECRET")`,
so it never appears in a run's config, log or metadata.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace

from blueprint_assets.lib.storage.layout import DataLayout

__all__ = ["ENV", "DataLayout", "Settings", "parse_k_list"]

SECRET_ENV = "BLUEPRINT_SECRET"
DEFAULT_DATA_DIR = "data"
ARCHIVE_KINDS = ("jetstream-archive", "sample")


def parse_k_list(value: str) -> list[int]:
    """BLUEPRINT_K: one K (`25`) or a comma-separated list (`2,25,100,1000`), each a positive integer."""
    try:
        ks = sorted({int(part) for part in value.split(",") if part.strip()})
    except ValueError:
        raise ValueError(f"BLUEPRINT_K must be integers separated by commas, got {value!r}") from None
    if not ks or ks[0] < 1:
        raise ValueError(f"BLUEPRINT_K needs at least one K of 1 or more, got {value!r}")
    return ks


def _csv(value: str) -> tuple[str, ...] | None:
    return tuple(item.strip() for item in value.split(",") if item.strip()) or None


def _flag(value: str) -> bool:
    return value == "1"


def _optional(value: str) -> str | None:
    return value or None


def _number(cast):
    def parse(value: str, variable: str):
        try:
            return cast(value)
        except ValueError:
            raise ValueError(f"{variable}={value!r} is not a {cast.__name__}") from None

    return parse


# Field -> (environment variable, parser of a non-empty value). An unset or empty variable keeps the default.
ENV: dict[str, tuple[str, object]] = {
    "data_dir": ("BLUEPRINT_DATA_DIR", str),
    "source": ("BLUEPRINT_SOURCE", str),
    "source_path": ("BLUEPRINT_SOURCE_PATH", _optional),
    "source_url": ("BLUEPRINT_SOURCE_URL", _optional),
    "source_dids": ("BLUEPRINT_SOURCE_DIDS", _csv),
    "source_actors": ("BLUEPRINT_SOURCE_ACTORS", _csv),
    "source_exclude": ("BLUEPRINT_SOURCE_EXCLUDE", _csv),
    "idle_timeout": ("BLUEPRINT_SOURCE_IDLE_TIMEOUT", _number(float)),
    "max_retries": ("BLUEPRINT_SOURCE_MAX_RETRIES", _number(int)),
    "backoff": ("BLUEPRINT_SOURCE_BACKOFF", _number(float)),
    "bsky_handle": ("BLUEPRINT_BSKY_HANDLE", _optional),
    "bsky_password": ("BLUEPRINT_BSKY_APP_PASSWORD", _optional),
    "secret": (SECRET_ENV, _optional),
    "ner": ("BLUEPRINT_NER", _flag),
    "optout_file": ("BLUEPRINT_OPTOUT_FILE", _optional),
    "keywords_file": ("BLUEPRINT_KEYWORDS_FILE", _optional),
    "require_keywords": ("BLUEPRINT_REQUIRE_KEYWORDS", _flag),
    "ks": ("BLUEPRINT_K", lambda value: tuple(parse_k_list(value))),
    "min_cluster_size": ("BLUEPRINT_MIN_CLUSTER_SIZE", int),
    "quote_min_cluster_size": ("BLUEPRINT_QUOTE_MIN_CLUSTER_SIZE", int),
    "contact": ("BLUEPRINT_CONTACT", str),
    "gated": ("BLUEPRINT_GATED", _flag),
    "split": ("BLUEPRINT_SPLIT", str),
    "stable_ids": ("BLUEPRINT_STABLE_IDS", _flag),
    "encoder": ("BLUEPRINT_ENCODER", str),
    "model_cache": ("BLUEPRINT_MODEL_CACHE", _optional),
    "torch_threads": ("BLUEPRINT_TORCH_THREADS", int),
}
_TAKES_NAME = {"idle_timeout", "max_retries", "backoff"}


@dataclass(frozen=True)
class Settings:
    """Every setting of a run, read once from `BLUEPRINT_*` (see `ENV`) and the CLI flags."""

    data_dir: str = DEFAULT_DATA_DIR
    source: str = "jetstream-archive"
    source_path: str | None = None
    source_url: str | None = None
    source_dids: tuple[str, ...] | None = None
    source_actors: tuple[str, ...] | None = None
    source_exclude: tuple[str, ...] | None = None
    idle_timeout: float | None = None  # None: the resource's default
    max_retries: int | None = None
    backoff: float | None = None
    bsky_handle: str | None = None
    bsky_password: str | None = field(default=None, repr=False)
    secret: str | None = field(default=None, repr=False)  # never printed; resources read it by EnvVar
    ner: bool = False
    optout_file: str | None = None
    keywords_file: str | None = None
    require_keywords: bool = False
    ks: tuple[int, ...] = (25,)
    min_cluster_size: int = 10
    quote_min_cluster_size: int = 50
    contact: str = ""
    gated: bool = False
    split: str = "temporal"
    stable_ids: bool = False
    encoder: str = "default"
    model_cache: str | None = None
    torch_threads: int | None = None  # None: one thread (lib/personas/encoder.py)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides) -> Settings:
        """Settings from `environ` (default: the process environment), then `overrides` that are not None."""
        environ = os.environ if environ is None else environ
        values: dict = {}
        for name, (variable, parse) in ENV.items():
            raw = environ.get(variable, "")
            if raw:
                values[name] = parse(raw, variable) if name in _TAKES_NAME else parse(raw)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise TypeError(f"unknown settings: {', '.join(unknown)}")
        values.update({name: value for name, value in overrides.items() if value is not None})
        for name in ("source_dids", "source_actors", "source_exclude"):
            if values.get(name) is not None:
                values[name] = tuple(values[name]) or None
        return cls(**values)

    def with_overrides(self, **overrides) -> Settings:
        """A copy with the given values (None leaves a value as it is)."""
        return replace(self, **{name: value for name, value in overrides.items() if value is not None})

    @property
    def layout(self) -> DataLayout:
        return DataLayout(self.data_dir)

    @property
    def archive_dir(self) -> str | None:
        """The folder an archive-kind source reads: `BLUEPRINT_SOURCE_PATH`, else `<data_dir>/sample`."""
        if self.source_path:
            return self.source_path
        return self.layout.sample if self.source in ARCHIVE_KINDS else None

    @property
    def model_cache_dir(self) -> str:
        """Where built encoder models are cached: `BLUEPRINT_MODEL_CACHE`, else `<data_dir>/models`."""
        return self.model_cache or self.layout.models

    @property
    def source_options(self) -> dict:
        """The network-source knobs that are set (the rest keep the resource's defaults)."""
        options = {
            "idle_timeout": self.idle_timeout,
            "max_retries": self.max_retries,
            "backoff": self.backoff,
        }
        return {name: value for name, value in options.items() if value is not None}
