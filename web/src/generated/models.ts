// GENERATED FILE - DO NOT EDIT. Source: schemas/asyncapi.yaml (components.schemas)
// Generator: @asyncapi/modelina (web/scripts/gen-models.mjs).
// Regenerate with: python -m homesim.schemas.regen (or: cd web && npm run gen)
/* eslint-disable */

export interface Appliance {
  'name': string;
  'power': number;
  'start': string;
  'end': string;
  'days'?: ApplianceDaysItem[];
  'state'?: ApplianceState;
}

export type ApplianceDaysItem = "mon" | "tue" | "wed" | "thu" | "fri" | "sat" | "sun";

export type ApplianceState = "auto" | "on" | "off";

export interface BatteryEnvelopeReport {
  'energy': number;
  'e_min': number;
  'e_max': number;
  'p_charge_max': number;
  'p_discharge_max': number;
  'eta_charge': number;
  'eta_discharge': number;
  'capacity'?: number;
  'coupling'?: BatteryEnvelopeReportCoupling;
  'eta_ac_dc'?: number;
  'eta_dc_ac'?: number;
  'p_ac_max'?: number | null;
}

export type BatteryEnvelopeReportCoupling = "dc" | "ac";

export interface BatteryProperties {
  'capacity'?: number;
  'soc_initial'?: number;
  'soc_min'?: number;
  'soc_max'?: number;
  'p_charge_max'?: number;
  'p_discharge_max'?: number;
  'eta_charge'?: number;
  'eta_discharge'?: number;
  'coupling'?: BatteryPropertiesCoupling;
  'eta_ac_dc'?: number;
  'eta_dc_ac'?: number;
  'p_ac_max'?: number | null;
}

export type BatteryPropertiesCoupling = "dc" | "ac";

export interface BoilerProperties {
  'p_th_max'?: number;
  'modulation_min'?: number;
  'eta_full'?: number;
  'eta_part'?: number;
  'delta_t'?: number;
  'gas_price'?: number;
  'currency'?: string;
}

export interface BufferProperties {
  'volume'?: number;
  't_min'?: number;
  't_max'?: number;
  'ua'?: number;
  't_surround'?: number;
  'soc_initial'?: number;
}

export type Carrier = "electricity" | "heat" | "gas" | "solar";

export interface ClockFinished {
  'ok': boolean;
  'message': string;
  'missing'?: string[];
  'status': ClockStatus;
}

export type ClockState = "starting" | "running" | "paused" | "finished" | "failed";

export interface ClockStatus {
  'state': ClockState;
  'speed': string;
  'window': number;
  'tick': number;
  'ticks_total': number;
  'sim_time': number;
  'wall_elapsed'?: number;
  'energy'?: Record<string, number>;
}

export interface ClockView {
  'state'?: string;
  'speed'?: string;
  'window'?: number;
  'sim_time'?: number;
}

export interface ClockWindow {
  'run': string;
  'window': number;
  'tick0': number;
  'n': number;
  'dt': number;
  'start': number;
  'speed': string;
}

export interface Coupling {
  'a': string;
  'b': string;
  'conductance': number;
}

export interface DescribeReply {
  'device': string;
  'kind': string;
  'description'?: string;
  'inputs'?: string[];
  'properties': PropertyInfo[];
}

export interface DeviceEvent {
  'tick': number;
  'kind': string;
  'value'?: string;
  'reason'?: string;
  'data'?: Record<string, number>;
}

export interface DeviceEvents {
  'run': string;
  'window': number;
  'device': string;
  'events': DeviceEvent[];
}

export interface DeviceReport {
  'run': string;
  'window': number;
  'tick0': number;
  'n': number;
  'device': string;
  'kind': string;
  'signals'?: Record<string, string | number[]>;
  'envelope'?: BatteryEnvelopeReport;
  'params'?: Record<string, number>;
}

export interface DhwTankProperties {
  'volume'?: number;
  'p_el'?: number;
  't_set'?: number;
  'hysteresis'?: number;
  't_cold'?: number;
  't_use'?: number;
  'ua'?: number;
  't_surround'?: number;
  'temp_initial'?: number;
  'heated_by'?: DhwTankPropertiesHeatedBy;
  'tapping'?: DhwTankPropertiesTapping;
  'taps'?: DhwTap[];
  'scale'?: number;
}

export type DhwTankPropertiesHeatedBy = "element" | "heat_node";

export type DhwTankPropertiesTapping = "M" | "custom";

export interface DhwTap {
  'time': string;
  'energy': number;
}

export interface ErrorDetails {
  'field'?: string;
  'reason': string;
  'errors'?: Record<string, any>[];
}

export interface EvChargerProperties {
  'p_max'?: number;
  'p_min'?: number;
  'efficiency'?: number;
  'sessions'?: EvSession[];
  'generator'?: EvGenerator | null;
}

export interface EvGenerator {
  'profile'?: EvGeneratorProfile;
  'capacity_kwh'?: number;
  'km_mean'?: number;
  'kwh_per_km'?: number;
  'arrival_mean'?: string;
  'departure_mean'?: string;
  'weekend_prob'?: number;
}

export type EvGeneratorProfile = "commuter";

export interface EvSession {
  'arrival': string;
  'departure': string;
  'days'?: EvSessionDaysItem[];
  'capacity_kwh'?: number;
  'energy_kwh'?: number | null;
  'soc_arrival'?: number | null;
  'target_soc'?: number | null;
}

export type EvSessionDaysItem = "mon" | "tue" | "wed" | "thu" | "fri" | "sat" | "sun";

export interface FlatProperties {
  'floor_area'?: number;
  'room_height'?: number;
  'thermal_class'?: FlatPropertiesThermalClass;
  'walls'?: Wall[];
  'windows'?: ReservedWindow[];
  'roof'?: Surface | null;
  'floor'?: Surface | null;
  'b_unheated'?: number;
  'temp_ground'?: number;
  'ach_vent'?: number;
  'ach_inf'?: number;
  'wind_coeff'?: number;
  'internal_gains'?: number;
  'phi_hc_max'?: number;
  'temp_initial'?: number;
  'thermostat'?: Thermostat;
  'occupants'?: Occupants | null;
}

export type FlatPropertiesThermalClass = "very_light" | "light" | "medium" | "heavy" | "very_heavy";

export interface Forked {
  'fork_id': string;
  'out'?: string;
  'ok': boolean;
  'summary'?: Record<string, any> | null;
  'error'?: string | null;
}

export interface ForkReply {
  'fork_id': string;
  'out': string;
  'snapshot': string;
}

export interface ForkRequest {
  'set'?: string[];
  'until'?: string | null;
}

export interface GetRequest {
  'name': string;
}

export interface GridProperties {
  'connected'?: boolean;
  'p_import_max'?: number;
  'p_export_max'?: number;
  'outages'?: Outage[];
  'load_shedding'?: TimeWindow[];
  'tariff_import'?: Tariff;
  'tariff_export'?: Tariff;
  'currency'?: string;
}

export interface HeatingCurve {
  't_flow_design'?: number;
  'temp_air_design'?: number;
  'exponent'?: number;
  't_flow_min'?: number;
}

export interface HeatNodeProperties {
  'strategy'?: HeatNodePropertiesStrategy;
  'distribution_loss'?: number;
  'couplings'?: Coupling[];
}

export type HeatNodePropertiesStrategy = "heat_pump_first" | "heat_pump_only" | "boiler_only" | "economic";

export interface HeatPumpProperties {
  'model'?: string;
  'group_id'?: number;
  'p_th_ref'?: number;
  't_cutoff'?: number;
  'modulation_min'?: number;
  'cd'?: number;
  'heating_rod'?: boolean;
  't_flow_buffer'?: number | null;
  't_flow_dhw'?: number | null;
  'heating_curve'?: HeatingCurve;
}

export interface HorizonPoint {
  'azimuth': number;
  'elevation': number;
}

export interface InverterProperties {
  'p_ac_max'?: number;
  'efficiency_model'?: InverterPropertiesEfficiencyModel;
  'eta_inv_nom'?: number;
  'inverter'?: string | null;
  'mode'?: InverterPropertiesMode;
  'reserve_soc'?: number;
  'charge_windows'?: TimeWindow[];
  'discharge_windows'?: TimeWindow[];
  'grid_charge_power'?: number;
}

export type InverterPropertiesEfficiencyModel = "pvwatts" | "cec";

export type InverterPropertiesMode = "self_consumption" | "time_of_use" | "backup";

export interface JoinReply {
  'epoch': string;
  'status': JoinReplyStatus;
  'window': number;
  'tick': number;
  'manifest'?: Record<string, any> | null;
  'state'?: Record<string, any> | null;
}

export type JoinReplyStatus = "fresh" | "restore" | "finished";

export interface JoinRequest {
  'name': string;
}

export interface JoulePackets {
  'run': string;
  'window': number;
  'tick0': number;
  'n': number;
  'publisher': string;
  'flows': PacketFlow[];
}

export interface LedgerSnapshot {
  'window': number;
  'tick': number;
  'windows': number;
  'dropped'?: Record<string, number>;
}

export interface LedgerStatus {
  'windows': number;
  'ticks': number;
  'dropped': Record<string, number>;
  'error'?: string | null;
}

export interface LoadCsv {
  'file': string;
  'time_column'?: string;
  'column'?: string;
  'unit'?: LoadCsvUnit;
  'label'?: LoadCsvLabel;
  'timezone'?: string | null;
  'time_format'?: string | null;
  'scale'?: boolean;
}

export type LoadCsvLabel = "start" | "end";

export type LoadCsvUnit = "W" | "kW" | "MW" | "J" | "Wh" | "kWh" | "MWh";

export interface LoadHolidays {
  'country': string;
  'subdivision'?: string | null;
}

export interface LoadManagerProperties {
  'strategy'?: LoadManagerPropertiesStrategy;
  'limit'?: number | null;
  'surplus_only'?: boolean;
}

export type LoadManagerPropertiesStrategy = "equal_share" | "first_come" | "departure_priority";

export interface LoadProperties {
  'profile'?: LoadPropertiesProfile;
  'annual_kwh'?: number;
  'holidays'?: LoadHolidays | null;
  'csv'?: LoadCsv | null;
  'noise_sigma'?: number;
  'appliances'?: Appliance[];
}

export type LoadPropertiesProfile = "h0" | "h0_dyn" | "g0" | "g1" | "g2" | "g3" | "g4" | "g5" | "g6" | "l0" | "l1" | "l2" | "csv";

export interface Meter {
  'flat': string;
  'ticks': number;
  'flows': MeterFlowsItem[];
}

export interface MeterFlowsItem {
  'source': string;
  'sink': string;
  'carrier': string;
  'joules': number;
}

export interface Occupants {
  'ach_boost'?: number;
  't_open'?: number;
  't_shade'?: number;
  'shading_factor'?: number;
  'band'?: number;
}

export interface Outage {
  'start': string;
  'end': string;
}

export interface PacketFlow {
  'source': string;
  'sink': string;
  'carrier': Carrier;
  'joules': string | number[];
}

export interface PropertyInfo {
  'name': string;
  'description'?: string;
  'unit'?: string;
  'live': boolean;
  'schema'?: Record<string, any>;
}

export interface PvIamParameters {
  'n'?: number | null;
  'K'?: number | null;
  'L'?: number | null;
  'b'?: number | null;
  'a_r'?: number | null;
}

export interface PvInverterProperties {
  'p_ac_max'?: number;
  'eta_inv_nom'?: number;
  'eta_inv_ref'?: number;
}

export interface PvProperties {
  'model'?: PvPropertiesModel;
  'pdc0'?: number;
  'gamma_pdc'?: number;
  'surface_tilt'?: number;
  'surface_azimuth'?: number;
  'transposition'?: PvPropertiesTransposition;
  'albedo'?: number;
  'aoi_model'?: PvPropertiesAoiModel;
  'iam_parameters'?: PvIamParameters | null;
  'spectral_model'?: PvPropertiesSpectralModel;
  'module_type'?: PvPropertiesModuleTypeAnyOf_0 | null;
  'precipitable_water'?: number;
  'sandia_module'?: string | null;
  'temperature_model'?: PvPropertiesTemperatureModel;
  'temperature_parameters'?: PvTemperatureParameters | null;
  'losses_percent'?: number | null;
  'pvwatts_losses'?: PvwattsLosses | null;
  'horizon'?: HorizonPoint[];
  'module_efficiency'?: number;
  'module'?: string | null;
  'modules_per_string'?: number;
  'strings'?: number;
  'inverter'?: string | null;
}

export type PvPropertiesAoiModel = "physical" | "ashrae" | "martin_ruiz" | "sapm" | "no_loss";

export type PvPropertiesModel = "pvwatts" | "cec";

export type PvPropertiesModuleTypeAnyOf_0 = "cdte" | "monosi" | "polysi" | "multisi" | "cigs" | "asi";

export type PvPropertiesSpectralModel = "no_loss" | "sapm" | "first_solar";

export type PvPropertiesTemperatureModel = "open_rack_glass_glass" | "close_mount_glass_glass" | "open_rack_glass_polymer" | "insulated_back_glass_polymer" | "sapm" | "pvsyst_freestanding" | "pvsyst_insulated" | "pvsyst_semi_integrated" | "pvsyst" | "faiman";

export type PvPropertiesTransposition = "haydavies" | "perez" | "isotropic";

export interface PvTemperatureParameters {
  'a'?: number | null;
  'b'?: number | null;
  'deltaT'?: number | null;
  'u_c'?: number | null;
  'u_v'?: number | null;
  'module_efficiency'?: number | null;
  'alpha_absorption'?: number | null;
  'u0'?: number | null;
  'u1'?: number | null;
}

export interface PvwattsLosses {
  'soiling'?: number;
  'shading'?: number;
  'snow'?: number;
  'mismatch'?: number;
  'wiring'?: number;
  'connections'?: number;
  'lid'?: number;
  'nameplate_rating'?: number;
  'age'?: number;
  'availability'?: number;
}

export interface Recover {
  'epoch': string;
  'window': number;
  'tick': number;
  'reason': string;
}

export interface ReservedWindow {
  'azimuth'?: number;
  'tilt'?: number;
  'area': number;
  'u_value'?: number;
  'g_value'?: number;
  'frame_fraction'?: number;
  'shading'?: number;
}

export interface SetRequest {
  'name': string;
  'value': any;
}

export interface SetSpeedRequest {
  'speed': string;
}

export interface Settle {
  'run': string;
  'window': number;
  'tick0': number;
  'n': number;
  'device': string;
  'packets': number;
  'stored0'?: number;
  'stored'?: string | number[];
  'losses'?: string | number[];
  'metrics'?: Record<string, string | number[]>;
  'error'?: string;
  'events'?: DeviceEvent[];
}

export interface SnapshotReply {
  'device': string;
  'kind': string;
  'properties': Record<string, any>;
  'state': Record<string, any>;
  'clock': ClockView;
}

export interface SnapshotScheduledReply {
  'scheduled'?: boolean;
  'after_window'?: number;
  'folder'?: string;
}

export interface SunProperties {
  
}

export interface Surface {
  'area': number;
  'u_value': number;
  'boundary'?: SurfaceBoundary;
}

export type SurfaceBoundary = "outdoor" | "ground" | "unheated";

export interface Tariff {
  'flat'?: number;
  'tou'?: TouBand[];
  'file'?: string | null;
}

export interface Thermostat {
  'comfort'?: number;
  'eco'?: number;
  'away'?: number;
  'comfort_windows'?: TimeWindow[];
  'away_windows'?: TimeWindow[];
  'mode'?: ThermostatMode;
}

export type ThermostatMode = "auto" | "comfort" | "eco" | "away" | "off";

export interface TimeWindow {
  'start': string;
  'end': string;
  'days'?: TimeWindowDaysItem[];
}

export type TimeWindowDaysItem = "mon" | "tue" | "wed" | "thu" | "fri" | "sat" | "sun";

export interface TouBand {
  'start': string;
  'end': string;
  'price': number;
}

export interface ValueReply {
  'name': string;
  'value': any;
}

export interface Wall {
  'azimuth'?: number;
  'area': number;
  'u_value': number;
}

export interface WeatherCsv {
  'time_column'?: string;
  'columns'?: WeatherCsvColumns;
  'irradiance_unit'?: WeatherCsvIrradianceUnit;
  'temperature_unit'?: WeatherCsvTemperatureUnit;
  'wind_unit'?: WeatherCsvWindUnit;
  'label'?: WeatherCsvLabel;
  'timezone'?: string;
  'time_format'?: string | null;
}

export interface WeatherCsvColumns {
  'ghi'?: string;
  'dni'?: string;
  'dhi'?: string;
  'temp_air'?: string;
  'wind_speed'?: string | null;
}

export type WeatherCsvIrradianceUnit = "W/m2" | "kW/m2" | "Wh/m2" | "kWh/m2" | "J/m2" | "kJ/m2" | "MJ/m2";

export type WeatherCsvLabel = "start" | "end";

export type WeatherCsvTemperatureUnit = "degC" | "K" | "degF";

export type WeatherCsvWindUnit = "m/s" | "km/h" | "mph" | "kn";

export interface WeatherProperties {
  'file'?: string | null;
  'format'?: WeatherPropertiesFormat;
  'csv'?: WeatherCsv | null;
  'cloud_cover'?: number;
}

export type WeatherPropertiesFormat = "auto" | "tmy3" | "tmy2" | "epw" | "pvgis_tmy" | "pvgis_hourly" | "csv";
