"""Pure physics models of homesim (no messaging, no I/O beyond bundled data files).

Modules: :mod:`.weather` (typical-year weather), :mod:`.sun` (solar position), :mod:`.pv`
(PV arrays), :mod:`.battery` (storage), :mod:`.inverter` (conversion and allocation),
:mod:`.grid` (availability, tariffs), :mod:`.load` (household load), :mod:`.schedule`
(local-time windows), :mod:`.thermal` (ISO 13790 5R1C flats, coupled), :mod:`.heatpump`
(hplib), :mod:`.boiler` (condensing gas boiler), :mod:`.buffer` (hot-water tank),
:mod:`.heatnode` (heat dispatch and allocation). Names and units: ``README.md`` in this folder.

Nothing is imported here, so a device imports only the model it needs.
"""
