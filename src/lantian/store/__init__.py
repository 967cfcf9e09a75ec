"""DuckDB schema and migrations, the raw packet journal, and the Parquet lake."""
