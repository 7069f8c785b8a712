"""Constructs: the bindings, the policy helpers and one construct per concern, by domain
(`foundation`, `storage`, `audit`, `analytics`, `access`).

Constructs take plain values (names, numbers, other constructs), never the configuration: the
stacks read an `Environment` and pass its values on. Importing this package imports nothing of cdktf.
"""
