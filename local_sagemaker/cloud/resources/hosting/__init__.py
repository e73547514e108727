"""SageMaker hosting, executed for real: models, endpoint configs, endpoints and their runtime."""
