"""Library code shared by the command-line entry points in scripts/ and by the tests: running
Terraform, the moto emulator, the checkov gate."""
