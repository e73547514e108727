"""Where jobs and instances run: child processes under the supervisor, network isolation, framework
environments, utilization sampling, and the model servers (the serving container's instances) that
endpoints and transform jobs share."""
