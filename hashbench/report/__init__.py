"""Reports of stored results: comparison tables."""
