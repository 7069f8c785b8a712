"""Bindings, policy documents, IAM identities and the rendering and input-check helpers every construct uses."""
