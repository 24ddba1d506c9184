"""Pure physics models of homesim (no messaging, no I/O beyond bundled data files).

Modules: :mod:`.weather` (typical-year weather), :mod:`.sun` (solar position), :mod:`.pv`
(PV arrays), :mod:`.battery` (storage), :mod:`.inverter` (conversion and allocation),
:mod:`.grid` (availability, tariffs), :mod:`.load` (household load), :mod:`.schedule`
(local-time windows), :mod:`.zone` (ISO 13790 5R1C zone constants, envelope, gains),
:mod:`.thermal_network` (coupled zones, backward Euler, thermostat), :mod:`.heatpump`
(hplib), :mod:`.boiler` (condensing gas boiler), :mod:`.buffer` (hot-water tank),
:mod:`.heatnode` (heat dispatch and allocation), :mod:`.ev_sessions` (EV sessions: schedules,
seeded commuter), :mod:`.ev_charging` (charge point, flexibility, charging per tick),
:mod:`.loadmanager` (EV load management). Names and units: ``README.md`` in this folder.

Nothing is imported here, so a device imports only the model it needs. The models import
each other relatively (``from .schedule import ...``), so that mypy, which cannot follow the
editable install's import hook, checks those imports too.
"""
