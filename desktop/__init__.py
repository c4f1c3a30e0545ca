"""FineTune Studio's Qt GUI: a thin layer over core/ that turns its objects into widgets and signals."""
