"""End-to-end workflows built from the packages: ablations and the demos."""
