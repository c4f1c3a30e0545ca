"""Datasets shipped with FineTune Studio: the demo support tickets and their generator."""
