"""Experiment-tracker plugins: lifecycle hooks that log runs elsewhere (MLflow)."""
