"""The service's routes, one module per group: meta (health, model), scoring, patients."""
