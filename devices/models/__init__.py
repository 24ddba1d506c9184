"""Pure physics models of homesim (no messaging, no I/O beyond bundled data files).

Modules: :mod:`.weather` (typical-year weather), :mod:`.sun` (solar position), :mod:`.pv`
(PV arrays), :mod:`.battery` (storage), :mod:`.inverter` (conversion and allocation),
:mod:`.grid` (availability, tariffs), :mod:`.load` (household load), :mod:`.schedule`
(local-time windows). Names and units: ``README.md`` in this folder.

Nothing is imported here, so a device imports only the model it needs.
"""
