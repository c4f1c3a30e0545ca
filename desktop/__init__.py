"""FineTune Studio's Qt GUI: a thin layer over core/ that turns its objects into widgets and signals."""

import sys

if sys.version_info < (3, 12):
    # PySide6 6.12 returns None from void methods without a new reference (fine where None
    # is immortal, Python 3.12+). On 3.11 each call drops None's count by one and the app
    # aborts with "none_dealloc" after a few thousand widget updates; a huge count on None
    # (never freed anyway) makes that unreachable.
    import ctypes

    ctypes.c_ssize_t.from_address(id(None)).value += 1 << 40
