"""The application role, the analysts' group, IAM Access Analyzer and the roles CI workflows assume."""
