"""Environment definitions (`<name>.toml`) and their loader, free of any cdktf import."""
