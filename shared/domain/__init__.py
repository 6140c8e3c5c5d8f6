"""The domain: requests, meeting options, records, errors and rules. Standard library only."""
