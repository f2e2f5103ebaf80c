"""Running the real program without the Pulumi CLI: provider mocks, a recording monitor, stack files.

The offline plan (`python -m tooling.plan`) and the test suite share this one implementation.
"""
