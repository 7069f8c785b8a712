"""The rule pack: invariants every stack must satisfy, run as a cdktf Aspect on every synth
(`rules.py`). Reads constructs; never the configuration."""
