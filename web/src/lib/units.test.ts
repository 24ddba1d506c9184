import { describe, expect, it } from 'vitest';
import { humanise, QuantityError, toUnit } from './units';

describe('quantities with units', () => {
  it.each([
    ['10 kWh', 'J', 36000000],
    ['10kWh', 'J', 36000000],
    ['36 MJ', 'J', 36000000],
    ['3.6e7', 'J', 36000000],
    ['5 kW', 'W', 5000],
    ['7.4kw', 'W', 7400],
    ['15 min', 's', 900],
    ['2 h', 's', 7200],
    ['21 degC', '°C', 21],
    ['294.15 K', '°C', 21],
    ['70 m^2', 'm2', 70],
    ['70 m2', 'm2', 70],
    ['14 %', '%', 14],
    ['10 kWh', 'kWh', 10],
    ['40 km', 'km', 40],
    ['0.18 kWh/km', 'kWh/km', 0.18],
  ])('%s on a [%s] property is %d', (text, unit, want) => {
    expect(toUnit(text, unit)).toBeCloseTo(want, 9);
  });
  it('refuses the wrong dimension, naming the expected unit', () => {
    expect(() => toUnit('5 kW', 'J')).toThrow(/a power, not an energy: give J, e\.g\. 10 kWh/);
    expect(() => toUnit('ten', 'J')).toThrow(QuantityError);
    expect(() => toUnit('10 furlongs', 'W')).toThrow(/unknown unit/);
  });
  it('reads SI values for people', () => {
    expect(humanise(36000000, 'J')).toBe('10 kWh');
    expect(humanise(5000, 'W')).toBe('5 kW');
    expect(humanise(900, 's')).toBe('15 min');
  });
});
