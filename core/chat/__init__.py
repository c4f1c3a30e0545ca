"""Chat: talk to the base model and fine-tuned runs side by side, and keep the good answers."""
