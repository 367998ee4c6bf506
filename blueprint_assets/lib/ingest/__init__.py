"""Ingestion: lines staged, parsed, quarantined with a reason, deduplicated, filed by day, mapped to actions."""
