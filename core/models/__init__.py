"""Base models: the bundled default, local Hugging Face folders, and the architecture catalog."""
