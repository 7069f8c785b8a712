"""In-process tests: constructs, stacks, loaders, rules and renderers. No subprocess (the conftest refuses one), no network."""
