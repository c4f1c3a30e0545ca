"""FineTune Studio's GUI-free core: everything a user can do, callable from the CLI and tests.

Nothing under core/ imports Qt; heavy ML libraries are imported inside the functions
that need them so that the window can appear without them.
"""

__version__ = "0.1.0"
