"""SageMaker batch transform, executed for real over the instances of a job."""
