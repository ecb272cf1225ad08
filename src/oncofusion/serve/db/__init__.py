"""Persistence of the scoring service: tables, engines and migrations, the registry."""
