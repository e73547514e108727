"""The one AWS account the local cloud plays, with the names a fresh SageMaker account would show."""

ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"
ROLE_NAME = "AmazonSageMaker-ExecutionRole-maze"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/service-role/{ROLE_NAME}"
# How long the kernel's execution-role session lasts: AWS's maximum for a role (MaxSessionDuration, 12 hours).
SESSION_SECONDS = 12 * 3600
