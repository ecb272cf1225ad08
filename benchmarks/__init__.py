"""Speed and quality benchmarks; results go to docs/benchmarks.md."""
