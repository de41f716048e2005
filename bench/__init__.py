"""Benchmarks: modelyard against MLflow's server on one PostgreSQL (not run by the test suite)."""
