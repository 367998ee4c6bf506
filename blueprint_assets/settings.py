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

from blueprint_assets.lib.release.policy import QUOTE_MIN_CLUSTER_SIZE
from blueprint_assets.lib.sources.kinds import ARCHIVE_KINDS, DEFAULT_SOURCE
from blueprint_assets.lib.storage.layout import DataLayout

__all__ = ["ENV", "DataLayout", "Settings", "parse_k_list"]

SECRET_ENV = "BLUEPRINT_SECRET"
DEFAULT_DATA_DIR = "data"


def parse_k_list(value: str) -> list[int]:
    """BLUEPRINT_K: one K (`25`) or a comma-separated list (`2,25,100,1000`), each a positive integer."""
    try:
        ks = sorted({int(part) for part in value.split(",") if part.strip()})
    except ValueError:
        raise ValueError(f"BLUEPRINT_K must be integers separated by commas, got {value!r}") from None
    if not ks or ks[0] < 1:
        raise ValueError(f"BLUEPRINT_K needs at least one K of 1 or more, got {value!r}")
    return ks


def _csv(value: str, variable: str) -> tuple[str, ...] | None:
    return tuple(item.strip() for item in value.split(",") if item.strip()) or None


def _flag(value: str, variable: str) -> bool:
    return value == "1"


def _text(value: str, variable: str) -> str:
    return value


def _k_list(value: str, variable: str) -> tuple[int, ...]:
    return tuple(parse_k_list(value))


def _number(cast):
    def parse(value: str, variable: str):
        try:
            return cast(value)
        except ValueError:
            raise ValueError(f"{variable}={value!r} is not a {cast.__name__}") from None

    return parse


def _env(variable: str, parse=_text, default=None, secret: bool = False):
    """A `Settings` field read from `variable` by `parse(value, variable)`; unset or empty keeps `default`."""
    return field(default=default, repr=not secret, metadata={"env": variable, "parse": parse})


@dataclass(frozen=True)
class Settings:
    """Every setting of a run, read once from `BLUEPRINT_*` (each field names its variable) and the CLI flags."""

    data_dir: str = _env("BLUEPRINT_DATA_DIR", default=DEFAULT_DATA_DIR)
    source: str = _env("BLUEPRINT_SOURCE", default=DEFAULT_SOURCE)
    source_path: str | None = _env("BLUEPRINT_SOURCE_PATH")
    source_url: str | None = _env("BLUEPRINT_SOURCE_URL")
    source_dids: tuple[str, ...] | None = _env("BLUEPRINT_SOURCE_DIDS", _csv)
    source_actors: tuple[str, ...] | None = _env("BLUEPRINT_SOURCE_ACTORS", _csv)
    source_exclude: tuple[str, ...] | None = _env("BLUEPRINT_SOURCE_EXCLUDE", _csv)
    # None: the network source's own default
    idle_timeout: float | None = _env("BLUEPRINT_SOURCE_IDLE_TIMEOUT", _number(float))
    max_retries: int | None = _env("BLUEPRINT_SOURCE_MAX_RETRIES", _number(int))
    backoff: float | None = _env("BLUEPRINT_SOURCE_BACKOFF", _number(float))
    bsky_handle: str | None = _env("BLUEPRINT_BSKY_HANDLE")
    bsky_password: str | None = _env("BLUEPRINT_BSKY_APP_PASSWORD", secret=True)
    # never printed; resources read it by EnvVar
    secret: str | None = _env(SECRET_ENV, secret=True)
    ner: bool = _env("BLUEPRINT_NER", _flag, False)
    optout_file: str | None = _env("BLUEPRINT_OPTOUT_FILE")
    keywords_file: str | None = _env("BLUEPRINT_KEYWORDS_FILE")
    require_keywords: bool = _env("BLUEPRINT_REQUIRE_KEYWORDS", _flag, False)
    ks: tuple[int, ...] = _env("BLUEPRINT_K", _k_list, (25,))
    min_cluster_size: int = _env("BLUEPRINT_MIN_CLUSTER_SIZE", _number(int), 10)
    quote_min_cluster_size: int = _env(
        "BLUEPRINT_QUOTE_MIN_CLUSTER_SIZE", _number(int), QUOTE_MIN_CLUSTER_SIZE
    )
    contact: str = _env("BLUEPRINT_CONTACT", default="")
    gated: bool = _env("BLUEPRINT_GATED", _flag, False)
    split: str = _env("BLUEPRINT_SPLIT", default="temporal")
    stable_ids: bool = _env("BLUEPRINT_STABLE_IDS", _flag, False)
    encoder: str = _env("BLUEPRINT_ENCODER", default="default")
    model_cache: str | None = _env("BLUEPRINT_MODEL_CACHE")
    # None: the system temp folder (lib/storage/storage.py `local_folder`); used with an object-store data dir
    scratch_dir: str | None = _env("BLUEPRINT_SCRATCH_DIR")
    # None: one process per usable core (lib/parallel.py `workers`)
    workers: int | None = _env("BLUEPRINT_WORKERS", _number(int))
    # None: one thread (lib/personas/encoder.py)
    torch_threads: int | None = _env("BLUEPRINT_TORCH_THREADS", _number(int))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides) -> Settings:
        """Settings from `environ` (default: the process environment), then `overrides` that are not None."""
        environ = os.environ if environ is None else environ
        values: dict = {}
        for name, (variable, parse) in ENV.items():
            raw = environ.get(variable, "")
            if raw:
                values[name] = parse(raw, variable)
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
        return DataLayout(self.data_dir, self.scratch_dir)

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


# Field -> (environment variable, parser), from the field declarations above.
ENV: dict[str, tuple[str, object]] = {
    f.name: (f.metadata["env"], f.metadata["parse"]) for f in fields(Settings) if "env" in f.metadata
}
