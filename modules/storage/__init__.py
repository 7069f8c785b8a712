"""The KMS keys and the secure S3 buckets, with the grants that update identity, key and bucket policies together."""
