"""Small shared utilities (seeding, atomic file writes, lazy package attributes)."""
