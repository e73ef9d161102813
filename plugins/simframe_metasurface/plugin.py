"""Registers the propagation models shared by every SIM system."""

from simframe import hookimpl
from simframe_metasurface.propagation import FreeSpacePropagation, RayleighSommerfeldPropagation


@hookimpl
def simframe_propagation_models():
    return [RayleighSommerfeldPropagation, FreeSpacePropagation]
