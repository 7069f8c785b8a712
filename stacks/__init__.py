"""Stacks: the only code that holds an `Environment` and cdktf together. Composition of the
constructs per environment, the state bootstrap, the app, and what is derived from both (deploy
permissions, Terraform settings, construct ids). Importing this package imports nothing of cdktf;
`ids.py`, `terraform_settings.py` and `deploy_policies.py` stay free of it too."""
