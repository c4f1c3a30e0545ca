"""The Estimate page: memory, time and cost of full fine-tuning, LoRA and QLoRA."""
