"""Entry points: the HTTP, queue and OpenAPI adapters the Functions triggers call."""
