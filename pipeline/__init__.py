"""EthoJoint computation and I/O: pure functions, no database.

Nothing in this package imports datajoint; ``schemas`` calls into it.
"""

__version__ = "0.1.0"
