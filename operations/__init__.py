"""Operations: Terraform, synth, the emulator, deployment, post-deploy checks, the export for ops,
review (diff, plan summary) and the scans. May import any layer below; nothing below imports it."""
