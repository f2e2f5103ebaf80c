"""Offline tooling: the plan under provider mocks, plan diffs, cost, graphs, generated docs, the benchmark.

Not part of the Pulumi program: `pulumi up` never imports it."""
