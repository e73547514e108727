"""The cloud's front door: one loopback endpoint, requests routed by service, SigV4 checked, SageMaker
requests validated against botocore's service model, the SDK's side calls answered."""
