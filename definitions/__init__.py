"""Rules and content: the AWS naming rules, ARN building, the one error type, the one typed-TOML
reader, and the loaders of every content file in `data/` (alarms, audit-path rules, tables,
queries, regions, deploy permissions, replacement attributes, emulator support).

The standard library only (import-linter enforces it): everything here is checked before the slow
cdktf import, and the command line can use it before any set-up.
"""
