"""Pure logic by domain: no module under lib/ imports Dagster or the definitions (docs/ARCHITECTURE.md)."""
