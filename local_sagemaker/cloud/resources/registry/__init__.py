"""The SageMaker Model Registry: model package groups and model packages; nothing executes, hosting deploys."""
