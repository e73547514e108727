"""What every service of the local cloud shares: AWS's errors, names, tags, listings, page tokens, S3 URIs,
CloudWatch Logs streams and the clock its records are stamped with."""
