"""An example third-party simframe plugin (see docs/plugin-guide.md).

It contributes a phase optimiser for the built-in ``sim_hmimo_link`` system
(:mod:`simframe_example.coordinate_ascent`) and a physical-layer hook that quantises every
configured phase to ``b`` bits (:mod:`simframe_example.quantisation`).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("simframe-example-plugin")
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"
