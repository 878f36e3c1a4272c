"""Measurement: the measured checkouts, benchmark runs, metrics and single mode."""
