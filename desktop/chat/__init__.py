"""The Chat page: the same prompt to two models, answers streamed side by side."""
