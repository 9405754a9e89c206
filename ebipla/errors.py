"""Error types. Every failure a user can cause or fix raises a subclass of :class:`EbiplaError`.

The command line catches these and prints their message without a traceback (``--debug`` shows it).
"""


class EbiplaError(Exception):
    """Base class of the errors that carry a user-facing message."""


class ConfigError(EbiplaError):
    """A config file or override is invalid: the message names the key and the file."""


class DataError(EbiplaError):
    """A data set is missing, corrupt or inconsistent with the config."""


class CheckpointError(EbiplaError):
    """A checkpoint cannot be read or does not belong to this run."""


class DivergenceError(EbiplaError):
    """Training produced a non-finite loss, particle or parameter."""
