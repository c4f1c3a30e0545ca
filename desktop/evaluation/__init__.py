"""The Evaluate page: baseline against fine-tuned runs, blind A/B rating and an LLM judge."""
