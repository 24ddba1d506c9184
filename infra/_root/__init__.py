"""homesim: simulate home and district energy systems, every device its own process, joule
packets over a Crossbar WAMP router.

This is the package root; ``homesim.devices``, ``homesim.schemas``, ``homesim.infra`` and
``homesim.operator`` live in the repository's ``devices/``, ``schemas/``, ``infra/`` and
``operator/`` folders (``[tool.setuptools] package-dir`` in ``pyproject.toml``).

The notebook API (:mod:`homesim.infra.api`), imported on first use so that the device
processes, which import ``homesim.devices``, never load it::

    import homesim
    r = homesim.run("examples/home.yaml", until="7d", dt="15 min")
    r.summary                      # one row per figure: value, unit
    r.series("kWh", freq="day")    # daily energy per flow [kWh], local days
    homesim.open_run("runs/greensboro-20250101T000000Z").flows()
"""

from __future__ import annotations

import sys
from importlib.machinery import ModuleSpec
from typing import TYPE_CHECKING, Any

# An editable install (pip install -e .) maps the portions with an import hook. operator/ has
# no __init__.py (a top-level "operator" package would shadow the standard library's module
# when Python runs in the repository root), and that hook finds such a portion only through
# its placeholder path entry, which the package's path must therefore carry.
__path__ += [p for p in sys.path if p.startswith("__editable__.homesim")]

# This package holds no modules of its own: its subpackages are mapped folders. Its spec says
# so (no location), as a namespace package's would: grimp (lint-imports) checks the four
# portions as root packages and accepts them only under a parent without a location.
__spec__ = ModuleSpec(__name__, __spec__.loader, origin=__spec__.origin, is_package=True)
__spec__.submodule_search_locations = __path__

if TYPE_CHECKING:
    from homesim.infra.api import Run, RunError, open_run, run

__all__ = ["run", "open_run", "Run", "RunError"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from homesim.infra import api

        return getattr(api, name)
    raise AttributeError(f"module 'homesim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
