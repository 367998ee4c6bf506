"""The source kinds, named once: every kind ingestion can read, and those that read an archive folder.

A light module: Settings, the CLI and the definitions import it at start-up (lib/sources/source_lines.py
maps each kind to its reader).
"""

SOURCE_KINDS = ("jetstream-archive", "jetstream-live", "car", "author-feed", "sample")
ARCHIVE_KINDS = ("jetstream-archive", "sample")  # a folder of Jetstream-shaped files, indexed by day
DEFAULT_SOURCE = "jetstream-archive"
