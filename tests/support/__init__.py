"""Test helpers (no fixtures): imported by tests as `from support.<module> import ...`; the fixtures live in
the conftest.py files."""
