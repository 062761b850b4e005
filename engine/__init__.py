"""EchoCare engine: ultrasound I/O, the EchoCare model, tasks and backends.

Importing this package is cheap: it pulls in neither torch nor Qt. Heavy modules are
imported by the functions that need them.
"""

__version__ = "0.1.0"
