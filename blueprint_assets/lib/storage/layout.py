"""DataLayout: the name of every folder under a data root (lake, state, releases, secret, sample, models, ...).

Paths under a data root are built here and nowhere else; `Settings.layout` (blueprint_assets/settings.py) and
the lake resource reach them through a `DataLayout`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from blueprint_assets.lib.storage.storage import join, local_folder, normalize_root

SECRET_FILE = "secret.key"  # lib/privacy/pseudonyms.py reads and creates it


@dataclass(frozen=True)
class DataLayout:
    """Every folder under a data root (a local folder or an object-store URL), named once."""

    data_dir: str
    # Where an object store's local stand-ins live (lib/storage/storage.py `local_folder`); None: system temp.
    scratch_dir: str | None = None

    @property
    def root(self) -> str:
        """The data root: an absolute local path or an object-store URL."""
        return normalize_root(self.data_dir)

    @property
    def lake(self) -> str:
        """The lake's Parquet tables: `<data_dir>/lake`."""
        return join(self.root, "lake")

    @property
    def state(self) -> str:
        """Shared state (archive index, opt-outs, cursors): `<data_dir>/state`, in the store."""
        return join(self.root, "state")

    @property
    def releases(self) -> str:
        """Where releases are kept: `<data_dir>/releases`, in the store."""
        return join(self.root, "releases")

    @property
    def scratch(self) -> Path:
        """Local, unshared working space (DuckDB spill, staging): `<data_dir>/state` when local."""
        return local_folder(self.state, self.scratch_dir)

    @property
    def spill(self) -> Path:
        """DuckDB's spill folder, in the scratch space."""
        return self.scratch / "duckdb_spill"

    @property
    def releases_local(self) -> Path:
        """Local folder releases are built in: the releases themselves when local, else staging."""
        return local_folder(self.releases, self.scratch_dir)

    @property
    def secret_file(self) -> Path:
        """The key file used when `BLUEPRINT_SECRET` is unset (local data dirs only)."""
        return Path(self.root) / SECRET_FILE

    @property
    def sample(self) -> str:
        """The default archive folder (`blueprint sample` writes here): `<data_dir>/sample`."""
        return os.path.join(self.data_dir, "sample")

    @property
    def models(self) -> str:
        """Built encoder models, a local folder: `<data_dir>/models` (scratch for an object store)."""
        return str(local_folder(join(str(self.data_dir), "models"), self.scratch_dir))

    @property
    def dagster_home(self) -> Path:
        """The persistent Dagster instance of the CLI: `<data_dir>/dagster_home` (local)."""
        return local_folder(join(self.data_dir, "dagster_home"), self.scratch_dir)
