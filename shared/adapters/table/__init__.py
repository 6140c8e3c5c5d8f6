"""Azure Table Storage: the meeting repository, its entities and keys."""
