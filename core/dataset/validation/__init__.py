"""Validation of chat datasets: structural errors and the known pitfalls as findings."""
