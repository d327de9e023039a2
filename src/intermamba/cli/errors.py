"""The one error type of the command line."""


class CLIError(Exception):
    """A user mistake: printed as one line, exit status 2."""
