"""Production footing: migrations, PostgreSQL, many processes, the hot path."""
