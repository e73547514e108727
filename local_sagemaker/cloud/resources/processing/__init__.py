"""SageMaker Processing, executed for real: the records, the API and the runner."""
