"""Tests that apply the stacks to the moto emulator with the real Terraform."""
