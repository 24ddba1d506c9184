# GENERATED FILE - DO NOT EDIT. Source: schemas/asyncapi.yaml (x-homesim-kind)
# Regenerate with: python -m homesim.schemas.regen

"""Device-kind descriptors and typed reports, generated from the contract."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np

from homesim.schemas.reports import KindReport, ReportSpec

KIND_DESCRIPTORS: dict[str, dict[str, Any]] = {'flat': {'kind': 'flat',
          'label': 'Flat (thermal zone)',
          'description': "A flat's thermal zone (ISO 13790 5R1C) with envelope, solar and internal "
                         'gains and thermostat.',
          'shell': 'homesim.devices.kinds.flat:FlatShell',
          'role': 'sink',
          'bounded': True,
          'carriers': ['heat', 'solar'],
          'inputs': ['weather', 'sun'],
          'packets_from': ['heat_node'],
          'requires': ['heat_node', 'weather', 'sun'],
          'limits': {'max_per_flat': 1},
          'colour': '#e67e22',
          'report': {'signals': {'theta_e': {'unit': '°C',
                                             'description': 'Outdoor air temperature.'},
                                 'h_ve': {'unit': 'W/K',
                                          'description': 'Ventilation conductance (wind '
                                                         'dependent).'},
                                 'phi_int': {'unit': 'W', 'description': 'Internal gains.'},
                                 'phi_sol': {'unit': 'W',
                                             'description': 'Solar gains through the windows.'},
                                 'setpoint': {'unit': '°C',
                                              'description': 'Thermostat setpoint (-273.15 when '
                                                             'off).'}},
                     'params': {'floor_area': {'unit': 'm^2',
                                               'description': 'Conditioned floor area A_f.'},
                                'volume': {'unit': 'm^3', 'description': 'Air volume.'},
                                'c_m': {'unit': 'J/K',
                                        'description': 'Internal heat capacity C_m.'},
                                'a_m': {'unit': 'm^2', 'description': 'Effective mass area A_m.'},
                                'a_t': {'unit': 'm^2',
                                        'description': 'Area of all surfaces facing the zone A_t.'},
                                'h_tr_is': {'unit': 'W/K',
                                            'description': 'Air-to-surface conductance.'},
                                'h_tr_w': {'unit': 'W/K', 'description': 'Window conductance.'},
                                'h_tr_ms': {'unit': 'W/K',
                                            'description': 'Surface-to-mass conductance.'},
                                'h_tr_em': {'unit': 'W/K',
                                            'description': 'Mass-to-outdoor conductance.'},
                                'h_g': {'unit': 'W/K',
                                        'description': 'Mass-to-ground conductance.'},
                                'phi_hc_max': {'unit': 'W',
                                               'description': 'Heating capacity of the emitters '
                                                              '(may be infinite).',
                                               'inf': True},
                                'theta_m0': {'unit': '°C',
                                             'description': 'Mass temperature at the window '
                                                            'start.'},
                                'theta_g': {'unit': '°C', 'description': 'Ground temperature.'},
                                'ach_boost': {'unit': '1/h',
                                              'description': "Occupants' extra air changes with "
                                                             'the windows open (0 = they never '
                                                             'open them).'},
                                't_open': {'unit': '°C',
                                           'description': 'Room temperature at which occupants '
                                                          'start opening windows.'},
                                't_shade': {'unit': '°C',
                                            'description': 'Room temperature at which blinds start '
                                                           'to close.'},
                                'shading_factor': {'unit': '1',
                                                   'description': 'Shading reduction factor of the '
                                                                  'closed blinds (1 = none).'},
                                'band': {'unit': 'K',
                                         'description': "Width of the occupants' temperature "
                                                        'ramps.'}}},
          'settle': {'stored': True,
                     'metrics': {'temp_room': {'unit': '°C',
                                               'description': 'Air temperature at the end of each '
                                                              'tick.'},
                                 'temp_mass': {'unit': '°C',
                                               'description': 'Mass temperature at the end of each '
                                                              'tick.'},
                                 'temp_operative': {'unit': '°C',
                                                    'description': 'Operative temperature 0.3 air '
                                                                   '+ 0.7 surface node (ISO 13790 '
                                                                   'eq. C.11), what EN 16798-1 '
                                                                   'comfort limits apply to.'},
                                 'setpoint': {'unit': '°C', 'description': 'Thermostat setpoint.'},
                                 'heat': {'unit': 'J', 'description': 'Heat delivered per tick.'},
                                 'degree_hours': {'unit': 'K h',
                                                  'description': 'Degree-hours below the setpoint '
                                                                 'per tick.'},
                                 'vent_boost': {'unit': '1/h',
                                                'description': 'Air changes added by open windows '
                                                               'per tick.'},
                                 'shading': {'unit': '1',
                                             'description': 'Shading reduction factor of the '
                                                            'blinds per tick (1 = open).'}}},
          'observe': ['temperature']},
 'heat_pump': {'kind': 'heat_pump',
               'label': 'Heat pump',
               'description': 'An air/water or brine/water heat pump (hplib; Keymark model by name '
                              'or generic by group) with a heating curve.',
               'shell': 'homesim.devices.kinds.heat_pump:HeatPumpShell',
               'role': 'converter',
               'bounded': True,
               'carriers': ['electricity', 'heat'],
               'inputs': ['weather'],
               'packets_from': ['heat_node', 'inverter'],
               'requires': ['heat_node', 'weather', 'sun'],
               'colour': '#16a085',
               'report': {'signals': {'p_th_max': {'unit': 'W',
                                                   'description': 'Thermal output at full load '
                                                                  "(hplib's heating rod's p_th_ref "
                                                                  'where its COP is <= 1).'},
                                      'cop': {'unit': '1',
                                              'description': 'Coefficient of performance at the '
                                                             'heating-curve flow temperature (1 on '
                                                             'the heating rod).'},
                                      't_flow': {'unit': '°C',
                                                 'description': 'Flow temperature of the heating '
                                                                'curve.'},
                                      'p_th_max_buffer': {'unit': 'W',
                                                          'description': 'Thermal output at full '
                                                                         "load at the buffer's "
                                                                         'charging flow '
                                                                         'temperature.'},
                                      'cop_buffer': {'unit': '1',
                                                     'description': "COP at the buffer's charging "
                                                                    'flow temperature.'},
                                      't_flow_buffer': {'unit': '°C',
                                                        'description': 'Flow temperature when '
                                                                       'charging the buffer: '
                                                                       'max(t_flow, t_flow_buffer '
                                                                       "property or the buffer's "
                                                                       't_max).'},
                                      'rod': {'unit': '1',
                                              'description': '1 where hplib runs its heating rod '
                                                             'at the heating-curve flow '
                                                             'temperature (COP <= 1), else 0.'},
                                      'p_th_max_dhw': {'unit': 'W',
                                                       'description': 'Thermal output at full load '
                                                                      'at the hot-water charging '
                                                                      'flow temperature.'},
                                      'cop_dhw': {'unit': '1',
                                                  'description': 'COP at the hot-water charging '
                                                                 'flow temperature.'},
                                      't_flow_dhw': {'unit': '°C',
                                                     'description': 'Flow temperature when heating '
                                                                    'a hot-water tank: max(t_flow, '
                                                                    't_flow_dhw property or the '
                                                                    'highest t_set of the tanks '
                                                                    'the heat node heats + 5 K).'}},
                          'params': {'modulation_min': {'unit': '1',
                                                        'description': 'Lowest continuous part '
                                                                       'load (1 for on/off groups '
                                                                       '4-6).'},
                                     'cd': {'unit': '1',
                                            'description': 'EN 14825 degradation coefficient for '
                                                           'cycling below modulation_min.'}}},
               'settle': {'metrics': {'p_th': {'unit': 'W',
                                               'description': 'Thermal output, tick mean.'},
                                      'p_el': {'unit': 'W',
                                               'description': 'Electric input, tick mean.'},
                                      'cop': {'unit': '1',
                                              'description': 'Achieved COP per tick (EN 14825 part '
                                                             'load included).'},
                                      't_flow': {'unit': '°C',
                                                 'description': "Flow temperature (the buffer's or "
                                                                'the hot-water charging '
                                                                'temperature in ticks that charge '
                                                                'them).'},
                                      'rod': {'unit': 'J',
                                              'description': "Heat from hplib's heating rod per "
                                                             'tick.'}}},
               'observe': ['cop']},
 'boiler': {'kind': 'boiler',
            'label': 'Gas boiler',
            'description': 'A condensing gas boiler (EU Reg. 813/2013 test points).',
            'shell': 'homesim.devices.kinds.boiler:BoilerShell',
            'role': 'converter',
            'bounded': True,
            'carriers': ['gas', 'heat'],
            'inputs': ['weather'],
            'packets_from': ['heat_node'],
            'requires': ['heat_node', 'weather'],
            'limits': {'max_per_home': 1},
            'colour': '#d35400',
            'report': {'signals': {'t_return': {'unit': '°C',
                                                'description': 'Return temperature.'}},
                       'params': {'p_th_max': {'unit': 'W', 'description': 'Rated thermal output.'},
                                  'modulation_min': {'unit': '1',
                                                     'description': 'Lowest modulation (fraction '
                                                                    'of p_th_max).'},
                                  'eta_full': {'unit': '1',
                                               'description': 'Efficiency at full load (80/60 '
                                                              '°C).'},
                                  'eta_part': {'unit': '1',
                                               'description': 'Efficiency at 30 % load (30 °C '
                                                              'return).'},
                                  'gas_price': {'unit': 'currency/kWh',
                                                'description': 'Gas price (gross calorific '
                                                               'value).'}}},
            'settle': {'metrics': {'p_th': {'unit': 'W',
                                            'description': 'Thermal output, tick mean.'},
                                   'gas': {'unit': 'J', 'description': 'Gas burnt per tick.'},
                                   'efficiency': {'unit': '1',
                                                  'description': 'Heat out / gas in per tick.'},
                                   'cost': {'unit': 'currency',
                                            'description': 'Gas cost per tick.'}}},
            'observe': ['cost']},
 'buffer': {'kind': 'buffer',
            'label': 'Buffer tank',
            'description': 'A fully mixed hot-water buffer tank with standing losses.',
            'shell': 'homesim.devices.kinds.buffer:BufferShell',
            'role': 'storage',
            'bounded': True,
            'carriers': ['heat'],
            'packets_from': ['heat_node'],
            'requires': ['heat_node'],
            'limits': {'max_per_home': 1},
            'colour': '#1abc9c',
            'report': {'params': {'energy': {'unit': 'J',
                                             'description': 'Stored energy above t_min at the '
                                                            'window start.'},
                                  'volume': {'unit': 'm^3', 'description': 'Water volume.'},
                                  't_min': {'unit': '°C',
                                            'description': 'Lowest usable temperature.'},
                                  't_max': {'unit': '°C', 'description': 'Highest temperature.'},
                                  'ua': {'unit': 'W/K',
                                         'description': 'Standing-loss conductance.'},
                                  't_surround': {'unit': '°C',
                                                 'description': 'Temperature around the tank.'}}},
            'settle': {'stored': True,
                       'metrics': {'soc': {'unit': '1',
                                           'description': 'State of charge at the end of each '
                                                          'tick.'},
                                   'temp': {'unit': '°C',
                                            'description': 'Tank temperature at the end of each '
                                                           'tick.'}}},
            'observe': ['soc']},
 'dhw_tank': {'kind': 'dhw_tank',
              'label': 'Hot-water tank',
              'description': 'A domestic hot-water tank (fully mixed) heated by an electric '
                             'element with a thermostat (a geyser) or by the heat node (heat pump, '
                             "boiler), tapped by EN 16147's tapping cycle M or a daily list of "
                             'draws.',
              'shell': 'homesim.devices.kinds.dhw_tank:DhwTankShell',
              'role': 'sink',
              'balanced_by': 'inverter',
              'bounded': True,
              'carriers': ['electricity'],
              'packets_from': ['inverter', 'heat_node'],
              'requires': ['inverter'],
              'colour': '#2980b9',
              'report': {'signals': {'demand': {'unit': 'J',
                                                'description': 'Electricity the element asks for '
                                                               'per tick (its thermostat over the '
                                                               'window; 0 when heated_by '
                                                               'heat_node).'},
                                     'wanted': {'unit': 'J',
                                                'description': 'Hot-water energy the taps want per '
                                                               'tick (above the cold water).'}},
                         'params': {'energy': {'unit': 'J',
                                               'description': 'Energy above the cold water at the '
                                                              'window start.'},
                                    'heater_on': {'unit': '1',
                                                  'description': "The thermostat's state at the "
                                                                 'window start (1 = asking for '
                                                                 'heat).'},
                                    'heated_by_node': {'unit': '1',
                                                       'description': '1 when the heat node heats '
                                                                      'the tank (heated_by: '
                                                                      'heat_node), 0 for the '
                                                                      'element.'},
                                    'volume': {'unit': 'm^3', 'description': 'Water volume.'},
                                    't_set': {'unit': '°C', 'description': 'Thermostat setpoint.'},
                                    'hysteresis': {'unit': 'K',
                                                   'description': 'The thermostat asks for heat '
                                                                  'below t_set - hysteresis.'},
                                    't_cold': {'unit': '°C',
                                               'description': 'Cold-water temperature.'},
                                    't_use': {'unit': '°C',
                                              'description': 'Lowest useful hot-water '
                                                             'temperature.'},
                                    'ua': {'unit': 'W/K',
                                           'description': 'Standing-loss conductance.'},
                                    't_surround': {'unit': '°C',
                                                   'description': 'Temperature around the tank.'}}},
              'settle': {'stored': True,
                         'losses': True,
                         'metrics': {'temp': {'unit': '°C',
                                              'description': 'Tank temperature at the end of each '
                                                             'tick.'},
                                     'demand': {'unit': 'J',
                                                'description': 'Electricity the element asked for '
                                                               'per tick.'},
                                     'unserved': {'unit': 'J',
                                                  'description': 'Electricity asked for but not '
                                                                 'served per tick.'},
                                     'drawn': {'unit': 'J',
                                               'description': 'Hot water drawn at the taps per '
                                                              'tick (above the cold water).'},
                                     'unmet': {'unit': 'J',
                                               'description': 'Hot water wanted but not available '
                                                              '(tank below t_use) per tick.'},
                                     'standing_loss': {'unit': 'J',
                                                       'description': 'Standing loss of the tank '
                                                                      'per tick.'},
                                     'heat': {'unit': 'J',
                                              'description': 'Heat from the heat node per tick '
                                                             '(heated_by: heat_node).'}}},
              'observe': ['unserved']},
 'heat_node': {'kind': 'heat_node',
               'label': 'Heat node',
               'description': "The building's heat balancing device (dispatches heat pumps, boiler "
                              'and buffer over the coupled flats).',
               'shell': 'homesim.devices.kinds.heat_node:HeatNodeShell',
               'role': 'controller',
               'balanced_by': 'inverter',
               'bounded': True,
               'carriers': ['heat', 'gas'],
               'inputs': ['flat',
                          'heat_pump',
                          'boiler',
                          'buffer',
                          'weather',
                          'grid',
                          'pv',
                          'load',
                          'dhw_tank'],
               'limits': {'max_per_home': 1},
               'colour': '#e74c3c',
               'report': {'firm': True},
               'settle': {'metrics': {'demand': {'unit': 'J',
                                                 'description': 'Heat demand of the flats per '
                                                                'tick.'},
                                      'unmet': {'unit': 'J',
                                                'description': 'Heat demand not met per tick.'},
                                      'heat': {'unit': 'J',
                                               'description': 'Heat delivered to the flats per '
                                                              'tick.'},
                                      'source': {'unit': '1',
                                                 'description': 'Main heat source per tick: 0 '
                                                                'none, 1 heat pump, 2 boiler, 3 '
                                                                'buffer.'},
                                      'dhw': {'unit': 'J',
                                              'description': 'Heat delivered to the hot-water '
                                                             'tanks it heats (heated_by: '
                                                             'heat_node) per tick.'}}}},
 'ev_charger': {'kind': 'ev_charger',
                'label': 'EV charger',
                'description': 'One charge point; sessions from a daily schedule or a seeded '
                               'commuter generator.',
                'shell': 'homesim.devices.kinds.ev_charger:EvChargerShell',
                'role': 'sink',
                'bounded': True,
                'carriers': ['electricity'],
                'packets_from': ['inverter'],
                'requires': ['load_manager'],
                'colour': '#3498db',
                'report': {'signals': {'e_min': {'unit': 'J',
                                                 'description': 'Cumulative energy the cars must '
                                                                'have taken by the end of each '
                                                                'tick (latest start).'},
                                       'e_max': {'unit': 'J',
                                                 'description': 'Cumulative energy the cars can '
                                                                'have taken by the end of each '
                                                                'tick (as fast as possible).'}},
                           'params': {'p_max': {'unit': 'W', 'description': 'Charge point rating.'},
                                      'p_min': {'unit': 'W',
                                                'description': 'Lowest charging power when '
                                                               'charging.'},
                                      'efficiency': {'unit': '1',
                                                     'description': 'Charger efficiency.'}},
                           'items': {'name': 'sessions',
                                     'prefix': 's',
                                     'description': "The window's charging sessions.",
                                     'fields': {'arrival_tick': {'unit': 'tick',
                                                                 'description': 'Arrival, relative '
                                                                                'to the window '
                                                                                'start.'},
                                                'departure_tick': {'unit': 'tick',
                                                                   'description': 'Departure, '
                                                                                  'relative to the '
                                                                                  'window start.'},
                                                'remaining': {'unit': 'J',
                                                              'description': 'Energy still wanted '
                                                                             'at the window '
                                                                             'start.'},
                                                'capacity': {'unit': 'J',
                                                             'description': 'Car battery '
                                                                            'capacity.'},
                                                'soc_start': {'unit': '1',
                                                              'description': 'Car state of charge '
                                                                             'at the window '
                                                                             'start.'},
                                                'unmet_tick': {'unit': 'tick',
                                                               'description': 'Tick at which unmet '
                                                                              'energy is booked '
                                                                              '(-1 none).'}}}},
                'settle': {'losses': True,
                           'metrics': {'delivered': {'unit': 'J',
                                                     'description': 'Energy delivered to the car '
                                                                    'per tick.'},
                                       'unmet': {'unit': 'J',
                                                 'description': 'Energy wanted but not delivered '
                                                                'at departure.'},
                                       'connected': {'unit': '1',
                                                     'description': '1 when a car is connected.'},
                                       'charger_loss': {'unit': 'J',
                                                        'description': 'Charger losses per tick.'},
                                       'p': {'unit': 'W',
                                             'description': 'Charging power (AC), tick mean.'}}}},
 'load_manager': {'kind': 'load_manager',
                  'label': 'Load manager',
                  'description': 'Dynamic load management of the EV chargers under the connection '
                                 'limit.',
                  'shell': 'homesim.devices.kinds.load_manager:LoadManagerShell',
                  'role': 'controller',
                  'balanced_by': 'inverter',
                  'bounded': True,
                  'carriers': [],
                  'inputs': ['ev_charger', 'load', 'pv', 'heat_node', 'grid'],
                  'limits': {'max_per_home': 1},
                  'colour': '#34495e',
                  'report': {'firm': True},
                  'settle': {'metrics': {'throttled': {'unit': 'J',
                                                       'description': 'Energy withheld from the '
                                                                      'chargers per tick.'},
                                         'allocated': {'unit': 'J',
                                                       'description': 'Energy allocated to the '
                                                                      'chargers per tick.'},
                                         'headroom': {'unit': 'J',
                                                      'description': 'Headroom under the '
                                                                     'connection limit per tick.'},
                                         'paused': {'unit': '1',
                                                    'description': 'Number of chargers paused per '
                                                                   'tick.'}}}},
 'weather': {'kind': 'weather',
             'label': 'Weather',
             'files': ['file'],
             'description': 'Weather file (TMY3, TMY2, EPW, PVGIS TMY or hourly, generic CSV; '
                            'typical or real, multi-year) with live extra cloud cover; the source '
                            'of irradiance, temperature and wind.',
             'shell': 'homesim.devices.kinds.weather:WeatherShell',
             'role': 'environment',
             'bounded': True,
             'carriers': [],
             'limits': {'max_per_home': 1},
             'colour': '#5dade2',
             'report': {'signals': {'ghi': {'unit': 'W/m^2',
                                            'description': 'Global horizontal irradiance, tick '
                                                           'mean.'},
                                    'dni': {'unit': 'W/m^2',
                                            'description': 'Direct normal irradiance, tick mean.'},
                                    'dhi': {'unit': 'W/m^2',
                                            'description': 'Diffuse horizontal irradiance, tick '
                                                           'mean.'},
                                    'temp_air': {'unit': '°C', 'description': 'Air temperature.'},
                                    'wind_speed': {'unit': 'm/s',
                                                   'description': 'Wind speed at 10 m.'}}}},
 'sun': {'kind': 'sun',
         'label': 'Sun',
         'description': "Solar position (pvlib NREL SPA) at the home's location, and the unbounded "
                        'source of solar energy.',
         'shell': 'homesim.devices.kinds.sun:SunShell',
         'role': 'environment',
         'bounded': False,
         'carriers': ['solar'],
         'limits': {'max_per_home': 1},
         'colour': '#f5c518',
         'report': {'signals': {'apparent_zenith': {'unit': 'deg',
                                                    'description': 'Refraction-corrected zenith at '
                                                                   'the tick midpoint.'},
                                'zenith': {'unit': 'deg',
                                           'description': 'True zenith at the tick midpoint.'},
                                'azimuth': {'unit': 'deg',
                                            'description': 'Solar azimuth (north = 0, east = 90).'},
                                'dni_extra': {'unit': 'W/m^2',
                                              'description': 'Extraterrestrial normal '
                                                             'irradiance.'}}}},
 'pv': {'kind': 'pv',
        'label': 'PV array',
        'description': 'A PV array (pvlib model chain, PVWatts or CEC single-diode) delivering DC '
                       'to the inverter.',
        'shell': 'homesim.devices.kinds.pv:PvShell',
        'role': 'source',
        'balanced_by': 'inverter',
        'bounded': True,
        'carriers': ['solar', 'electricity'],
        'inputs': ['weather', 'sun'],
        'packets_from': ['inverter'],
        'requires': ['weather', 'sun'],
        'references': {'inverter': 'pv_inverter'},
        'colour': '#f39c12',
        'report': {'signals': {'dc': {'unit': 'J',
                                      'description': 'DC energy the array can deliver per tick.'},
                               'solar': {'unit': 'J',
                                         'description': 'Solar energy incident on the array per '
                                                        'tick.'},
                               'v_dc': {'unit': 'V',
                                        'description': 'DC voltage at maximum power (CEC model; '
                                                       'NaN for PVWatts).',
                                        'nan': True}}},
        'settle': {'losses': True,
                   'metrics': {'curtailed': {'unit': 'J',
                                             'description': 'DC the inverter did not take.'}}},
        'observe': ['curtailed']},
 'pv_inverter': {'kind': 'pv_inverter',
                 'label': 'PV inverter',
                 'description': 'A string (PV-only) inverter on the AC bus, beside the hybrid '
                                'inverter: it converts the DC of the pv arrays that name it (pv '
                                'property inverter) with the PVWatts inverter model '
                                '(pvlib.inverter.pvwatts, Dobos 2014), clips at its AC rating and '
                                "delivers AC to the home's balancing device (the inverter), which "
                                'takes it like its own PV AC; its conversion losses are its own '
                                '(docs/architecture.md, Several inverters).',
                 'shell': 'homesim.devices.kinds.pv_inverter:PvInverterShell',
                 'role': 'converter',
                 'balanced_by': 'inverter',
                 'bounded': True,
                 'carriers': ['electricity'],
                 'inputs': ['pv'],
                 'packets_from': ['inverter'],
                 'requires': ['inverter'],
                 'consumer': False,
                 'colour': '#d35400',
                 'report': {'signals': {'ac': {'unit': 'J',
                                               'description': 'AC energy it can deliver per tick '
                                                              "(its arrays' DC through the PVWatts "
                                                              'curve, clipped at p_ac_max).'},
                                        'dc_in': {'unit': 'J',
                                                  'description': 'DC energy its arrays can deliver '
                                                                 'per tick.'},
                                        'clipped': {'unit': 'J',
                                                    'description': 'DC its arrays could deliver '
                                                                   'above what its AC rating '
                                                                   'converts, per tick (not drawn: '
                                                                   'the arrays leave their maximum '
                                                                   'power point).'}},
                            'params': {'p_ac_max': {'unit': 'W', 'description': 'AC rating.'},
                                       'eta_inv_nom': {'unit': '1',
                                                       'description': 'Nominal efficiency of the '
                                                                      'PVWatts curve.'},
                                       'eta_inv_ref': {'unit': '1',
                                                       'description': 'Reference efficiency of the '
                                                                      'PVWatts curve.'}}},
                 'settle': {'losses': True,
                            'metrics': {'ac': {'unit': 'J',
                                               'description': 'AC energy delivered to the '
                                                              'balancing inverter per tick.'},
                                        'clipped': {'unit': 'J',
                                                    'description': 'DC not drawn because of the AC '
                                                                   'rating (inverter clipping) per '
                                                                   "tick; part of its arrays' "
                                                                   'curtailed DC.'},
                                        'curtailed': {'unit': 'J',
                                                      'description': 'AC it could have delivered '
                                                                     'but the balancing inverter '
                                                                     'did not take (export limit, '
                                                                     'no sink) per tick.'}}},
                 'observe': ['clipped']},
 'inverter': {'kind': 'inverter',
              'label': 'Inverter',
              'description': "The home's hybrid inverter and its one electric balancing device "
                             '(PVWatts or CEC efficiency, operating modes): it converts every PV '
                             "array's DC and dispatches every battery (several: in proportion to "
                             'what each can take or give per tick) and the grid connection. One '
                             'per home; an AC-coupled battery brings its own converter (battery '
                             "coupling ac), a pv_inverter (PV inverter) delivers its arrays' AC to "
                             'it.',
              'shell': 'homesim.devices.kinds.inverter:InverterShell',
              'role': 'balancer',
              'bounded': True,
              'carriers': ['electricity'],
              'limits': {'max_per_home': 1, 'min_per_home': 1},
              'consumer': False,
              'colour': '#7f8c8d',
              'settle': {'losses': True,
                         'metrics': {'pv_ac': {'unit': 'J',
                                               'description': 'AC energy converted from PV per '
                                                              'tick.'},
                                     'unserved': {'unit': 'J',
                                                  'description': 'Load that could not be served '
                                                                 '(islanded, limits).'}}}},
 'battery': {'kind': 'battery',
             'label': 'Battery',
             'description': 'A stationary battery (energy reservoir with charge and discharge '
                            "efficiencies, SAM's model), DC-coupled behind the inverter or "
                            'AC-coupled behind its own converter; a home may have several: the '
                            'inverter dispatches them in proportion to what each can take or give '
                            'per tick (docs/architecture.md, Several batteries).',
             'shell': 'homesim.devices.kinds.battery:BatteryShell',
             'role': 'storage',
             'balanced_by': 'inverter',
             'bounded': True,
             'carriers': ['electricity'],
             'packets_from': ['inverter'],
             'consumer': False,
             'colour': '#27ae60',
             'report': {'envelope': True},
             'settle': {'stored': True,
                        'losses': True,
                        'metrics': {'soc': {'unit': '1',
                                            'description': 'State of charge at the end of each '
                                                           'tick.'},
                                    'converter_losses': {'unit': 'J',
                                                         'description': "Losses of the battery's "
                                                                        'own converter per tick '
                                                                        '(coupling ac only; part '
                                                                        'of its losses).'}}},
             'observe': ['soc']},
 'grid': {'kind': 'grid',
          'label': 'Grid connection',
          'files': ['tariff_import.file', 'tariff_export.file'],
          'description': 'The grid connection (availability, outages, load shedding, limits, '
                         'tariffs); an unbounded node.',
          'shell': 'homesim.devices.kinds.grid:GridShell',
          'role': 'external',
          'balanced_by': 'inverter',
          'bounded': False,
          'carriers': ['electricity'],
          'packets_from': ['inverter'],
          'limits': {'max_per_home': 1},
          'consumer': False,
          'colour': '#2980b9',
          'report': {'signals': {'available': {'unit': '1',
                                               'description': '1 when the grid is up, else 0.'},
                                 'import_max': {'unit': 'J',
                                                'description': 'Import limit per tick.'},
                                 'export_max': {'unit': 'J',
                                                'description': 'Export limit per tick.'},
                                 'price_import': {'unit': 'currency/kWh',
                                                  'description': 'Import price.'},
                                 'price_export': {'unit': 'currency/kWh',
                                                  'description': 'Export price (feed-in).'}}},
          'settle': {'metrics': {'cost': {'unit': 'currency',
                                          'description': 'Import cost minus export revenue per '
                                                         'tick.'},
                                 'available': {'unit': '1',
                                               'description': '1 when the grid was up.'}}},
          'observe': ['cost']},
 'load': {'kind': 'load',
          'label': 'Household load',
          'files': ['csv.file'],
          'description': 'An electricity demand (a demandlib BDEW standard load profile or a CSV '
                         'profile, plus scheduled appliances); a home may have several.',
          'shell': 'homesim.devices.kinds.load:LoadShell',
          'role': 'sink',
          'balanced_by': 'inverter',
          'bounded': True,
          'carriers': ['electricity'],
          'packets_from': ['inverter'],
          'colour': '#8e44ad',
          'report': {'signals': {'demand': {'unit': 'J',
                                            'description': 'Electricity demand per tick.'}}},
          'settle': {'losses': True,
                     'metrics': {'demand': {'unit': 'J',
                                            'description': 'Electricity demand per tick.'},
                                 'unserved': {'unit': 'J',
                                              'description': 'Demand not served (shed) per '
                                                             'tick.'}}},
          'observe': ['unserved']}}


@dataclasses.dataclass(frozen=True, eq=False)
class FlatReport(KindReport):
    """Phase-1 report of a ``flat`` device (Flat (thermal zone))."""

    KIND: ClassVar[str] = "flat"
    SPEC: ClassVar[ReportSpec] = ReportSpec.model_validate(KIND_DESCRIPTORS["flat"].get("report", {}))
    theta_e: np.ndarray
    """Outdoor air temperature [°C], shape (n,)."""
    h_ve: np.ndarray
    """Ventilation conductance (wind dependent) [W/K], shape (n,)."""
    phi_int: np.ndarray
    """Internal gains [W], shape (n,)."""
    phi_sol: np.ndarray
    """Solar gains through the windows [W], shape (n,)."""
    setpoint: np.ndarray
    """Thermostat setpoint (-273.15 when off) [°C], shape (n,)."""
    floor_area: float
    """Conditioned floor area A_f [m^2]."""
    volume: float
    """Air volume [m^3]."""
    c_m: float
    """Internal heat capacity C_m [J/K]."""
    a_m: float
    """Effective mass area A_m [m^2]."""
    a_t: float
    """Area of all surfaces facing the zone A_t [m^2]."""
    h_tr_is: float
    """Air-to-surface conductance [W/K]."""
    h_tr_w: float
    """Window conductance [W/K]."""
    h_tr_ms: float
    """Surface-to-mass conductance [W/K]."""
    h_tr_em: float
    """Mass-to-outdoor conductance [W/K]."""
    h_g: float
    """Mass-to-ground conductance [W/K]."""
    phi_hc_max: float
    """Heating capacity of the emitters (may be infinite) [W]."""
    theta_m0: float
    """Mass temperature at the window start [°C]."""
    theta_g: float
    """Ground temperature [°C]."""
    ach_boost: float
    """Occupants' extra air changes with the windows open (0 = they never open them) [1/h]."""
    t_open: float
    """Room temperature at which occupants start opening windows [°C]."""
    t_shade: float
    """Room temperature at which blinds start to close [°C]."""
    shading_factor: float
    """Shading reduction factor of the closed blinds (1 = none) [1]."""
    band: float
    """Width of the occupants' temperature ramps [K]."""


@dataclasses.dataclass(frozen=True, eq=False)
class HeatPumpReport(KindReport):
    """Phase-1 report of a ``heat_pump`` device (Heat pump)."""

    KIND: ClassVar[str] = "heat_pump"
    SPEC: ClassVar[ReportSpec] = ReportSpec.model_validate(KIND_DESCRIPTORS["heat_pump"].get("report", {}))
    p_th_max: np.ndarray
    """Thermal output at full load (hplib's heating rod's p_th_ref where its COP is <= 1) [W], shape (n,)."""
    cop: np.ndarray
    """Coefficient of performance at the heating-curve flow temperature (1 on the heating rod) [1], shape (n,)."""
    t_flow: np.ndarray
    """Flow temperature of the heating curve [°C], shape (n,)."""
    p_th_max_buffer: np.ndarray
    """Thermal output at full load at the buffer's charging flow temperature [W], shape (n,)."""
    cop_buffer: np.ndarray
    """COP at the buffer's charging flow temperature [1], shape (n,)."""
    t_flow_buffer: np.ndarray
    """Flow temperature when charging the buffer: max(t_flow, t_flow_buffer property or the buffer's t_max) [°C], shape (n,)."""
    rod: np.ndarray
    """1 where hplib runs its heating rod at the heating-curve flow temperature (COP <= 1), else 0 [1], shape (n,)."""
    p_th_max_dhw: np.ndarray
    """Thermal output at full load at the hot-water charging flow temperature [W], shape (n,)."""
    cop_dhw: np.ndarray
    """COP at the hot-water charging flow temperature [1], shape (n,)."""
    t_flow_dhw: np.ndarray
    """Flow temperature when heating a hot-water tank: max(t_flow, t_flow_dhw property or the highest t_set of the tanks the heat node heats + 5 K) [°C], shape (n,)."""
    modulation_min: float
    """Lowest continuous part load (1 for on/off groups 4-6) [1]."""
    cd: float
    """EN 14825 degradation coefficient for cycling below modulation_min [1]."""


@dataclasses.dataclass(frozen=True, eq=False)
class BoilerReport(KindReport):
    """Phase-1 report of a ``boiler`` device (Gas boiler)."""

    KIND: ClassVar[str] = "boiler"
    SPEC: ClassVar[ReportSpec] = ReportSpec.model_validate(KIND_DESCRIPTORS["boiler"].get("report", {}))
    t_return: np.ndarray
    """Return temperature [°C], shape (n,)."""
    p_th_max: float
    """Rated thermal output [W]."""
    modulation_min: float
    """Lowest modulation (fraction of p_th_max) [1]."""
    eta_full: float
    """Efficiency at full load (80/60 °C) [1]."""
    eta_part: float
    """Efficiency at 30 % load (30 °C return) [1]."""
    gas_price: float
    """Gas price (gross calorific value) [currency/kWh]."""


@dataclasses.dataclass(frozen=True, eq=False)
class BufferReport(KindReport):
    """Phase-1 report of a ``buffer`` device (Buffer tank)."""

    KIND: ClassVar[str] = "buffer"
    SPEC: ClassVar[ReportSpec] = ReportSpec.model_validate(KIND_DESCRIPTORS["buffer"].get("report", {}))
    energy: float
    """Stored energy above t_min at the window start [J]."""
    volume: float
    """Water volume [m^3]."""
    t_min: float
    """Lowest usable temperature [°C]."""
    t_max: float
    """Highest temperature [°C]."""
    ua: float
    """Standing-loss conductance [W/K]."""
    t_surround: float
    """Temperature around the tank [°C]."""


@dataclasses.dataclass(frozen=True, eq=False)
class DhwTankReport(KindReport):
    """Phase-1 report of a ``dhw_tank`` device (Hot-water tank)."""

    KIND: ClassVar[str] = "dhw_tank"
    SPEC: ClassVar[ReportSpec] = ReportSpec.model_validate(KIND_DESCRIPTORS["dhw_tank"].get("report", {}))
    demand: np.ndarray
    """Electricity the element asks for per tick (its thermostat over the window; 0 when heated_by heat_node) [J], shape (n,)."""
    wanted: np.ndarray
    """Hot-water energy the taps want per tick (above the cold water) [J], shape (n,)."""
    energy: float
    """Energy above the cold water at the window start [J]."""
    heater_on: float
    """The thermostat's state at the window start (1 = asking for heat) [1]."""
    heated_by_node: float
    """1 when the heat node heats the tank (heated_by: heat_node), 0 for the element [1]."""
    volume: float
    """Water volume [m^3]."""
    t_set: float
    """Thermostat setpoint [°C]."""
    hysteresis: float
    """The thermostat asks for heat below t_set - hysteresis [K]."""
    t_cold: float
    """Cold-water temperature [°C]."""
    t_use: float
    """Lowest useful hot-water temperature [°C]."""
    ua: float
    """Standing-loss conductance [W/K]."""
    t_surround: float
    """Temperature around the tank [°C]."""


@dataclasses.dataclass(frozen=True, eq=False)
class HeatNodeReport(KindReport):
    """Phase-1 report of a ``heat_node`` device (Heat node)."""

    KIND: ClassVar[str] = "heat_node"
    SPEC: ClassVar[ReportSpec] = ReportSpec.model_validate(KIND_DESCRIPTORS["heat_node"].get("report", {}))
    firm: dict[str, np.ndarray]
    """Electricity decided for other devices: device -> [J] per tick."""


@dataclasses.dataclass(frozen=True, eq=False)
class EvChargerReport(KindReport):
    """Phase-1 report of a ``ev_charger`` device (EV charger)."""

    KIND: ClassVar[str] = "ev_charger"
    SPEC: ClassVar[ReportSpec] = ReportSpec.model_validate(KIND_DESCRIPTORS["ev_charger"].get("report", {}))
    e_min: np.ndarray
    """Cumulative energy the cars must have taken by the end of each tick (latest start) [J], shape (n,)."""
    e_max: np.ndarray
    """Cumulative energy the cars can have taken by the end of each tick (as fast as possible) [J], shape (n,)."""
    p_max: float
    """Charge point rating [W]."""
    p_min: float
    """Lowest charging power when charging [W]."""
    efficiency: float
    """Charger efficiency [1]."""
    sessions: tuple[dict[str, float], ...]
    """The window's charging sessions. Each: arrival_tick [tick], departure_tick [tick], remaining [J], capacity [J], soc_start [1], unmet_tick [tick]."""


@dataclasses.dataclass(frozen=True, eq=False)
class LoadManagerReport(KindReport):
    """Phase-1 report of a ``load_manager`` device (Load manager)."""

    KIND: ClassVar[str] = "load_manager"
    SPEC: ClassVar[ReportSpec] = ReportSpec.model_validate(KIND_DESCRIPTORS["load_manager"].get("report", {}))
    firm: dict[str, np.ndarray]
    """Electricity decided for other devices: device -> [J] per tick."""


@dataclasses.dataclass(frozen=True, eq=False)
class WeatherReport(KindReport):
    """Phase-1 report of a ``weather`` device (Weather)."""

    KIND: ClassVar[str] = "weather"
    SPEC: ClassVar[ReportSpec] = ReportSpec.model_validate(KIND_DESCRIPTORS["weather"].get("report", {}))
    ghi: np.ndarray
    """Global horizontal irradiance, tick mean [W/m^2], shape (n,)."""
    dni: np.ndarray
    """Direct normal irradiance, tick mean [W/m^2], shape (n,)."""
    dhi: np.ndarray
    """Diffuse horizontal irradiance, tick mean [W/m^2], shape (n,)."""
    temp_air: np.ndarray
    """Air temperature [°C], shape (n,)."""
    wind_speed: np.ndarray
    """Wind speed at 10 m [m/s], shape (n,)."""


@dataclasses.dataclass(frozen=True, eq=False)
class SunReport(KindReport):
    """Phase-1 report of a ``sun`` device (Sun)."""

    KIND: ClassVar[str] = "sun"
    SPEC: ClassVar[ReportSpec] = ReportSpec.model_validate(KIND_DESCRIPTORS["sun"].get("report", {}))
    apparent_zenith: np.ndarray
    """Refraction-corrected zenith at the tick midpoint [deg], shape (n,)."""
    zenith: np.ndarray
    """True zenith at the tick midpoint [deg], shape (n,)."""
    azimuth: np.ndarray
    """Solar azimuth (north = 0, east = 90) [deg], shape (n,)."""
    dni_extra: np.ndarray
    """Extraterrestrial normal irradiance [W/m^2], shape (n,)."""


@dataclasses.dataclass(frozen=True, eq=False)
class PvReport(KindReport):
    """Phase-1 report of a ``pv`` device (PV array)."""

    KIND: ClassVar[str] = "pv"
    SPEC: ClassVar[ReportSpec] = ReportSpec.model_validate(KIND_DESCRIPTORS["pv"].get("report", {}))
    dc: np.ndarray
    """DC energy the array can deliver per tick [J], shape (n,)."""
    solar: np.ndarray
    """Solar energy incident on the array per tick [J], shape (n,)."""
    v_dc: np.ndarray
    """DC voltage at maximum power (CEC model; NaN for PVWatts) [V], shape (n,)."""


@dataclasses.dataclass(frozen=True, eq=False)
class PvInverterReport(KindReport):
    """Phase-1 report of a ``pv_inverter`` device (PV inverter)."""

    KIND: ClassVar[str] = "pv_inverter"
    SPEC: ClassVar[ReportSpec] = ReportSpec.model_validate(KIND_DESCRIPTORS["pv_inverter"].get("report", {}))
    ac: np.ndarray
    """AC energy it can deliver per tick (its arrays' DC through the PVWatts curve, clipped at p_ac_max) [J], shape (n,)."""
    dc_in: np.ndarray
    """DC energy its arrays can deliver per tick [J], shape (n,)."""
    clipped: np.ndarray
    """DC its arrays could deliver above what its AC rating converts, per tick (not drawn: the arrays leave their maximum power point) [J], shape (n,)."""
    p_ac_max: float
    """AC rating [W]."""
    eta_inv_nom: float
    """Nominal efficiency of the PVWatts curve [1]."""
    eta_inv_ref: float
    """Reference efficiency of the PVWatts curve [1]."""


@dataclasses.dataclass(frozen=True, eq=False)
class InverterReport(KindReport):
    """Phase-1 report of a ``inverter`` device (Inverter)."""

    KIND: ClassVar[str] = "inverter"
    SPEC: ClassVar[ReportSpec] = ReportSpec.model_validate(KIND_DESCRIPTORS["inverter"].get("report", {}))


@dataclasses.dataclass(frozen=True, eq=False)
class BatteryReport(KindReport):
    """Phase-1 report of a ``battery`` device (Battery)."""

    KIND: ClassVar[str] = "battery"
    SPEC: ClassVar[ReportSpec] = ReportSpec.model_validate(KIND_DESCRIPTORS["battery"].get("report", {}))
    envelope: dict[str, Any]
    """Storage envelope (BatteryEnvelopeReport): energies [J], powers [W]."""


@dataclasses.dataclass(frozen=True, eq=False)
class GridReport(KindReport):
    """Phase-1 report of a ``grid`` device (Grid connection)."""

    KIND: ClassVar[str] = "grid"
    SPEC: ClassVar[ReportSpec] = ReportSpec.model_validate(KIND_DESCRIPTORS["grid"].get("report", {}))
    available: np.ndarray
    """1 when the grid is up, else 0 [1], shape (n,)."""
    import_max: np.ndarray
    """Import limit per tick [J], shape (n,)."""
    export_max: np.ndarray
    """Export limit per tick [J], shape (n,)."""
    price_import: np.ndarray
    """Import price [currency/kWh], shape (n,)."""
    price_export: np.ndarray
    """Export price (feed-in) [currency/kWh], shape (n,)."""


@dataclasses.dataclass(frozen=True, eq=False)
class LoadReport(KindReport):
    """Phase-1 report of a ``load`` device (Household load)."""

    KIND: ClassVar[str] = "load"
    SPEC: ClassVar[ReportSpec] = ReportSpec.model_validate(KIND_DESCRIPTORS["load"].get("report", {}))
    demand: np.ndarray
    """Electricity demand per tick [J], shape (n,)."""


REPORTS: dict[str, type[KindReport]] = {
    "flat": FlatReport,
    "heat_pump": HeatPumpReport,
    "boiler": BoilerReport,
    "buffer": BufferReport,
    "dhw_tank": DhwTankReport,
    "heat_node": HeatNodeReport,
    "ev_charger": EvChargerReport,
    "load_manager": LoadManagerReport,
    "weather": WeatherReport,
    "sun": SunReport,
    "pv": PvReport,
    "pv_inverter": PvInverterReport,
    "inverter": InverterReport,
    "battery": BatteryReport,
    "grid": GridReport,
    "load": LoadReport,
}
