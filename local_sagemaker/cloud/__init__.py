"""The local cloud process: its gateway (routing, SigV4, validation), the control plane's resources, the
shared platform and the compute that runs jobs and instances. Never imported by the kernel side."""
