"""A toy Functions app for the local host's tests: one fresh FunctionApp per call of make_app()."""
from .function_app import HOST_JSON, make_app, new_queue_name

__all__ = ["HOST_JSON", "make_app", "new_queue_name"]
