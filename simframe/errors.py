"""Exceptions that the CLI turns into one-paragraph messages instead of tracebacks."""

from __future__ import annotations


class SimframeError(Exception):
    """Base class of every error simframe reports to a user."""


class ScenarioError(SimframeError):
    """A scenario file is malformed; carries every problem found, not just the first."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        noun = "problem" if len(problems) == 1 else "problems"
        super().__init__(f"{source}: {len(problems)} {noun}:\n{lines}")


class ParameterError(ValueError):
    """Raised by a component's constructor when a parameter value is unusable.

    ``parameter`` names the offending parameter so that the scenario loader can point at the
    exact key in the file (e.g. ``sweep.system.tx_atoms[2]``).
    """

    def __init__(self, parameter: str, message: str):
        self.parameter = parameter
        self.message = message
        super().__init__(f"{parameter}: {message}")


class ContractError(ValueError):
    """A component or a plugin's hook broke its documented contract (returned an array of the
    wrong shape, phases off the unit circle, ...).

    ``author`` is who broke it: the component instance, or the hook implementation; a trial
    that fails with this error is blamed on it, not on the code that found the problem. System
    models raise it where they take what their slots' components return.
    """

    def __init__(self, author: object, message: str):
        super().__init__(message)
        self.author = author


class PluginError(SimframeError):
    """A plugin could not be loaded or registers something inconsistent."""


class RunError(SimframeError):
    """A run stopped before it finished, or was refused; finished sweep points are kept on disk.

    ``details`` holds the full traceback of the exception behind it, formatted where it was
    raised (possibly in a worker process), for ``simframe run --traceback``. ``exit_status`` is
    the command's: 1 when the run failed, 2 when it was refused before it started (its output,
    its parts or its code), 128 + N when signal N stopped it.
    """

    def __init__(self, message: str, details: str = "", exit_status: int = 1):
        super().__init__(message)
        self.details = details
        self.exit_status = exit_status
