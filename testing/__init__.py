"""What the tests and the benchmarks share: the local cloud driven with plain boto3, as the SageMaker SDK drives
it. Outside ``tests/`` so that a benchmark imports no test code; not part of the installed packages (run the
tests and the benchmarks from the repository's root, which puts it on the path)."""
