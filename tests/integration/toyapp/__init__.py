"""A toy Functions app for the local host's tests: one fresh FunctionApp per call of make_app()."""
from .function_app import make_app

__all__ = ["make_app"]
