"""Storage: files on a local folder or an object store, the Parquet lake, DuckDB plumbing and shared state."""
