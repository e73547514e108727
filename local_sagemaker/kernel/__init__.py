"""What runs in the participant's kernel: ``connect()``, the team, the versions check, the clean-up guard and
the launcher that finds or starts the local cloud. A Studio kernel needs this package alone (boto3, the SDK)."""
