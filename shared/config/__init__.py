"""Configuration: app settings, national clouds, allowlists."""
