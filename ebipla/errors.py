"""Error types. Every failure a user can cause or fix raises a subclass of :class:`EbiplaError`.

The command line catches these and prints their message without a traceback (``--debug`` shows it), then exits
with the error's ``exit_code``:

====  =====================================================================================================
2     bad input or environment: config, data set, checkpoint, a file that cannot be written (e.g. disk full)
3     training diverged (:class:`DivergenceError`); the last good checkpoint is kept
75    training was stopped by SIGTERM or SIGUSR1 (:class:`TrainingStopped`) after writing a checkpoint; run the
      same command again to resume (75 is ``EX_TEMPFAIL`` of sysexits.h: "try again later")
====  =====================================================================================================
"""

EXIT_BAD_INPUT = 2
EXIT_DIVERGED = 3
EXIT_STOPPED = 75


class EbiplaError(Exception):
    """Base class of the errors that carry a user-facing message."""

    exit_code = EXIT_BAD_INPUT


class ConfigError(EbiplaError):
    """A config file or override is invalid: the message names the key and the file."""


class DataError(EbiplaError):
    """A data set is missing, corrupt or inconsistent with the config."""


class CheckpointError(EbiplaError):
    """A checkpoint cannot be read or does not belong to this run."""


class OutputError(EbiplaError):
    """A file could not be written (disk full, no permission); the file it would have replaced is unchanged."""


class DivergenceError(EbiplaError):
    """Training produced a non-finite loss, particle or parameter."""

    exit_code = EXIT_DIVERGED


class TrainingStopped(EbiplaError):
    """Training was asked to stop by a signal (preemption, time limit) and wrote a checkpoint to resume from."""

    exit_code = EXIT_STOPPED
