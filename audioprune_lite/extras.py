"""Optional dependencies: import one, or say in one line which extra installs it.

``pip install audioprune_lite`` brings what the command line needs. The chapters need a
few more packages (Torch-Pruning among them), which the ``[book]`` extra installs. A
module that needs such a package imports it with :func:`require`, so that a missing
package stops with one clear line instead of a traceback, and ``audioprune`` prints that
line and exits with code 1.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["MissingExtraError", "require"]


class MissingExtraError(ImportError):
    """An optional package is not installed; the message names it and the extra to install."""


def require(module: str, extra: str) -> ModuleType:
    """Import an optional module, or raise :class:`MissingExtraError` saying how to install it.

    Parameters
    ----------
    module : str
        The module to import, e.g. ``"torch_pruning"``.
    extra : str
        The extra of ``audioprune_lite`` that installs it, e.g. ``"book"``.

    Returns
    -------
    types.ModuleType
        The imported module.

    Raises
    ------
    MissingExtraError
        If the module cannot be imported; its message is one line, e.g.
        ``torch_pruning is not installed: pip install 'audioprune_lite[book]'``.
    """
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise MissingExtraError(
            f"{module} is not installed: pip install 'audioprune_lite[{extra}]'") from error
