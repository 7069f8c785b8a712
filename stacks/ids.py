"""Construct ids that code outside the stacks needs, declared once. No cdktf imports, so the
operations (which run without the bindings loaded) can name them."""

# The access-log bucket in either stack: the other buckets log their deletion into it, so the
# emulator teardown destroys it last.
ACCESS_LOG_BUCKET_ID = "access-log-bucket"
