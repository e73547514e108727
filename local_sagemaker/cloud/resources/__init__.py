"""The control plane: one package per SageMaker service, each resource a typed record, its operations
and the runner or fleet that executes it. Services import the platform and compute, never each other."""
