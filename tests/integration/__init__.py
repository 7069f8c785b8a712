"""Tests that run real tools: terraform, the cdktf CLI, checkov, parliament, DuckDB, import-linter, git."""
