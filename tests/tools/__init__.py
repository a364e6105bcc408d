"""Command-line tools the end-to-end tests drive that do not come as a plain binary on PATH.

Why this package exists: some clients (Helm 4) reach a fresh CI machine only inside a PyPI
wheel; each module here finds one such tool in the test venv and makes it runnable.
"""
