"""The Dataset page: edit, import, validate and version the chat dataset without writing code."""
