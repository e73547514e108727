"""SageMaker automatic model tuning: hyperparameter tuning jobs that launch real training jobs."""
