"""What runs inside a job or an instance, in the framework version's environment: the serving application and
its codecs, the job supervisor, the network namespace's first command, the line-writing ``sitecustomize``.
Imports nothing of the cloud or the kernel side (an instance sees this package alone)."""
