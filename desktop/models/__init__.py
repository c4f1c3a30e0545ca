"""The model picker: models on this machine and downloads from the Hub."""
