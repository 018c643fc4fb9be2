"""Shared parts of the test suite: real git repositories, the CLI, real targets, real models, plans."""
