"""The export dialog: a run's model as adapter, merged model or GGUF, checked for parity."""
