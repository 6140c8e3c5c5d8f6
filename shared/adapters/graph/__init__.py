"""Microsoft Graph: app-only tokens, the onlineMeetings and calendar client with its operations, its answers read."""
