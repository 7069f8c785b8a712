"""Construct ids that code outside the stacks needs, declared once. No cdktf imports, so the
operations (which run without the bindings loaded) can name them."""

# The access-log bucket in either stack: the other buckets log their deletion into it, so the
# emulator teardown destroys it last.
ACCESS_LOG_BUCKET_ID = "access-log-bucket"

# The organization's stacks (stacks/organization_stacks.py), in the order they are applied: each
# policy that names a principal or a key of another stack comes after it.
ORGANIZATION_STACKS = ("org-bootstrap", "org-security", "org-archive", "org-trail", "org-governance")
