"""Errors a user can cause and fix; the CLI prints them without a traceback."""


class RetainError(Exception):
    """Base class: a problem with the user's input, data or configuration."""


class ConfigError(RetainError):
    """The configuration file or an environment override is invalid."""


class DataError(RetainError):
    """Input data violates the bank data contract in a way that stops the run."""
