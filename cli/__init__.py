"""The command line: argv and environment variables turned into calls to operations (`make` runs
these as `python -m cli.<name>`). Nothing imports it."""
