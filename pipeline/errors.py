"""Errors meant for people: the message says what is wrong, where, and how to fix it."""


class PipelineError(Exception):
    """A fatal, user-facing problem (bad input, bad spec). The CLI prints it and exits non-zero."""


class SpecError(PipelineError):
    """A wave specification (YAML) that is inconsistent or incomplete."""


class InputError(PipelineError):
    """A raw or processed input file that cannot be used."""
