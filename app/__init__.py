"""EchoCare Studio: the desktop application and the ``echocare`` command line."""

__version__ = "0.1.0"
