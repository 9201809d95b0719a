"""Errors a user can cause and fix; the CLI prints them as one line, never as a traceback."""


class SeqlabError(Exception):
    """Base class for user-facing errors (bad input, missing data, wrong checkpoint)."""


class DataNotFoundError(SeqlabError):
    """A data file is missing and could not be downloaded."""


class CheckpointError(SeqlabError):
    """A checkpoint is missing, truncated, or belongs to another model."""
