"""Microsoft Graph: app-only tokens, the onlineMeetings and calendar client, its answers read."""
