"""DuckDB schema and typed access to the farm's catalogs (media, jobs, accounts, uploads, logs)."""
