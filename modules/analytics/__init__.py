"""The Athena workgroup, the Glue catalog over the trail's logs and the named investigation queries."""
