"""The ``echocare`` command line (Qt-free)."""
