"""A device's state at a window boundary as plain JSON, and back: the codec behind
:meth:`DeviceShell.dump_state` / :meth:`DeviceShell.load_state`.

A shell names the attributes that change during a run in ``persist``; everything else is
rebuilt from the properties by ``setup()``. Each attribute is written as JSON values only
(str, int, float, bool, None, list, dict with str keys) and read back against a *type*:

* the attribute's class annotation when the shell declares one (``energy: float``,
  ``ev_state: dict[float, float]``, a ``TypedDict``, ``float | None``,
  ``Annotated[float, NONFINITE]``, ``numpy.ndarray``), else
* the type of the value the freshly set-up shell holds (its *template*): a plugin kind only
  lists its attributes in ``persist``.

Rules when reading (any breach is a ``ValueError`` naming the field, e.g.
``battery: energy: expected a finite number, got 'nan'``):

* numbers: an ``int`` is an int (not a bool); a ``float`` accepts ints and floats; a float
  must be finite unless its type is ``Annotated[float, NONFINITE]``, where NaN and ±inf are
  written as the strings ``"nan"``, ``"inf"``, ``"-inf"`` (JSON has no such numbers);
* a dict whose template (after ``setup()``) has keys, such as per-device meters, must come
  back with exactly those keys; one that starts empty (per-session maps) may have any keys
  of its key type; non-str keys (``dict[float, float]``) are written as ``repr`` strings,
  which ``float()`` turns back into the same number;
* a numpy array is a (nested) list with the template's shape (when the template is an array);
* a ``TypedDict`` has exactly its keys.

Floats are written as Python floats, whose ``repr`` (what :func:`json.dumps` writes) reads
back to the same bits, so ``load(json.loads(json.dumps(dump())))`` restores exactly.
"""

from __future__ import annotations

import math
import sys
import types
import typing
from collections.abc import Mapping
from functools import cache
from typing import Annotated, Any, Union, get_args, get_origin

import numpy as np

__all__ = ["STATE_VERSION", "NONFINITE", "encode", "decode", "persisted_types"]

#: Version of the state format written by ``dump_state`` (a ``"version"`` field).
STATE_VERSION = 1


class _NonFinite:
    """Marker: ``Annotated[float, NONFINITE]`` may hold NaN and ±inf."""

    def __repr__(self) -> str:
        return "NONFINITE"


NONFINITE = _NonFinite()
_NONFINITE_TEXT = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def _float_text(x: float) -> str:
    return "nan" if x != x else ("inf" if x > 0 else "-inf")


# ------------------------------------------------------------------------------ writing


def encode(value: Any, path: str) -> Any:
    """``value`` as JSON values only (see the module docstring).

    Raises
    ------
    TypeError
        If ``value`` holds something that is not plain data (a model object, a set…).
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        x = float(value)
        return x if math.isfinite(x) else _float_text(x)
    if isinstance(value, np.ndarray):
        return encode(value.tolist(), path)
    if isinstance(value, Mapping):
        return {_encode_key(k, path): encode(v, f"{path}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v, f"{path}[{i}]") for i, v in enumerate(value)]
    raise TypeError(f"{path}: cannot save a {type(value).__name__} (plain data only)")


def _encode_key(key: Any, path: str) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, (bool, np.bool_)):
        raise TypeError(f"{path}: cannot save a bool mapping key")
    if isinstance(key, (int, np.integer)):
        return str(int(key))
    if isinstance(key, (float, np.floating)) and math.isfinite(float(key)):
        return repr(float(key))
    raise TypeError(f"{path}: cannot save the mapping key {key!r}")


# ------------------------------------------------------------------------------ reading


class _Bad(ValueError):
    pass


def _fail(path: str, why: str) -> typing.NoReturn:
    raise _Bad(f"{path}: {why}")


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def decode(value: Any, ann: Any, template: Any, path: str) -> Any:
    """``value`` (JSON values) read back as type ``ann`` (None: the template's type).

    Raises
    ------
    ValueError
        Naming the field (``path``) that does not fit.
    """
    if ann is None:
        ann = _infer(template)
    allow_nonfinite = False
    if get_origin(ann) is Annotated:
        base, *meta = get_args(ann)
        allow_nonfinite = any(m is NONFINITE for m in meta)
        ann = base
    if ann is Any or ann is object:
        return _plain(value, path)
    if ann is type(None) or ann is None:
        if value is not None:
            _fail(path, f"expected null, got {_show(value)}")
        return None
    origin = get_origin(ann)
    if origin is Union or isinstance(ann, types.UnionType):
        return _union(value, get_args(ann), template, path, allow_nonfinite)
    if ann is bool:
        if not isinstance(value, bool):
            _fail(path, f"expected true or false, got {_show(value)}")
        return value
    if ann is int:
        if not isinstance(value, int) or isinstance(value, bool):
            _fail(path, f"expected an integer, got {_show(value)}")
        return value
    if ann is float:
        return _float(value, path, allow_nonfinite)
    if ann is str:
        if not isinstance(value, str):
            _fail(path, f"expected a string, got {_show(value)}")
        return value
    if ann is np.ndarray:
        return _array(value, template, path, allow_nonfinite)
    if typing.is_typeddict(ann):
        return _typeddict(value, ann, template, path)
    if ann is dict or origin is dict:
        args = get_args(ann)
        return _dict(value, args[0] if args else str, args[1] if args else None, template, path)
    if ann is list or origin is list:
        args = get_args(ann)
        return _list(value, args[0] if args else None, template, path)
    if ann is tuple or origin is tuple:
        return _tuple(value, get_args(ann), template, path)
    raise TypeError(f"{path}: cannot restore a value of type {ann!r}")


def _infer(template: Any) -> Any:
    """The type of a template value (what a fresh shell holds after ``setup()``)."""
    if isinstance(template, (bool, np.bool_)):
        return bool
    if isinstance(template, (int, np.integer)):
        return int
    if isinstance(template, (float, np.floating)):
        return float
    if isinstance(template, str):
        return str
    if isinstance(template, np.ndarray):
        return np.ndarray
    if isinstance(template, Mapping):
        return dict
    if isinstance(template, list):
        return list
    if isinstance(template, tuple):
        return tuple
    return Any


def _float(value: Any, path: str, allow_nonfinite: bool) -> float:
    if isinstance(value, str) and value in _NONFINITE_TEXT:
        if not allow_nonfinite:
            _fail(path, f"expected a finite number, got {_show(value)}")
        return _NONFINITE_TEXT[value]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        _fail(path, f"expected a number, got {_show(value)}")
    try:
        x = float(value)
    except OverflowError:
        _fail(path, f"{_show(value)} is too large for a float")
    if not math.isfinite(x):  # a raw NaN/inf (json.loads reads NaN): never written by encode
        _fail(path, f"expected a finite number, got {_show(value)}"
              + (" (write non-finite numbers as \"nan\", \"inf\", \"-inf\")"
                 if allow_nonfinite else ""))
    return x


def _union(value: Any, arms: tuple[Any, ...], template: Any, path: str,
           allow_nonfinite: bool) -> Any:
    if value is None and type(None) in arms:
        return None
    why = []
    for arm in arms:
        if arm is type(None):
            continue
        if allow_nonfinite and arm is float:
            arm = Annotated[float, NONFINITE]
        try:
            return decode(value, arm, template, path)
        except _Bad as exc:
            why.append(str(exc).removeprefix(f"{path}: "))
    _fail(path, " or ".join(why) if why else f"unexpected {_show(value)}")


def _plain(value: Any, path: str) -> Any:
    """A JSON value of no declared type, copied (finite numbers only)."""
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        return _float(value, path, False)
    if isinstance(value, list):
        return [_plain(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                _fail(path, f"mapping keys must be strings, got {_show(k)}")
            out[k] = _plain(v, f"{path}.{k}")
        return out
    _fail(path, f"not a JSON value: {_show(value)}")


def _key(key: Any, kind: Any, path: str) -> Any:
    if not isinstance(key, str):
        _fail(path, f"mapping keys must be strings, got {_show(key)}")
    if kind in (str, Any, None):
        return key
    try:
        k = kind(key)
    except (TypeError, ValueError, OverflowError):
        _fail(path, f"key {key!r} is not a {kind.__name__}")
    if kind is float and not math.isfinite(k):
        _fail(path, f"key {key!r} is not a finite number")
    return k


def _dict(value: Any, key_type: Any, value_type: Any, template: Any, path: str) -> dict:
    if not isinstance(value, dict):
        _fail(path, f"expected a mapping, got {_show(value)}")
    tmpl = template if isinstance(template, Mapping) else {}
    out = {}
    for raw, v in value.items():
        k = _key(raw, key_type, path)
        if tmpl and k not in tmpl:
            _fail(f"{path}.{raw}", f"unexpected field (expected {sorted(map(str, tmpl))})")
        out[k] = decode(v, value_type, tmpl.get(k), f"{path}.{raw}")
    missing = [k for k in tmpl if k not in out]
    if missing:
        _fail(f"{path}.{missing[0]}", "missing field")
    return out


def _typeddict(value: Any, ann: Any, template: Any, path: str) -> dict:
    if not isinstance(value, dict):
        _fail(path, f"expected a mapping, got {_show(value)}")
    hints = typing.get_type_hints(ann, include_extras=True)
    tmpl = template if isinstance(template, Mapping) else {}
    for k in value:
        if k not in hints:
            _fail(f"{path}.{k}", f"unexpected field (expected {sorted(hints)})")
    for k in ann.__required_keys__:
        if k not in value:
            _fail(f"{path}.{k}", "missing field")
    return {k: decode(v, hints[k], tmpl.get(k), f"{path}.{k}") for k, v in value.items()}


def _list(value: Any, item: Any, template: Any, path: str) -> list:
    if not isinstance(value, list):
        _fail(path, f"expected a list, got {_show(value)}")
    tmpl = template if isinstance(template, (list, tuple)) else ()
    return [decode(v, item if item is not None else (None if i < len(tmpl) else Any),
                   tmpl[i] if i < len(tmpl) else None, f"{path}[{i}]")
            for i, v in enumerate(value)]


def _tuple(value: Any, args: tuple[Any, ...], template: Any, path: str) -> tuple:
    if not isinstance(value, list):
        _fail(path, f"expected a list, got {_show(value)}")
    tmpl = template if isinstance(template, (list, tuple)) else ()
    if len(args) == 2 and args[1] is Ellipsis:
        types_ = [args[0]] * len(value)
    elif args:
        if len(value) != len(args):
            _fail(path, f"expected {len(args)} values, got {len(value)}")
        types_ = list(args)
    else:
        if tmpl and len(value) != len(tmpl):
            _fail(path, f"expected {len(tmpl)} values, got {len(value)}")
        types_ = [None if i < len(tmpl) else Any for i in range(len(value))]
    return tuple(decode(v, t, tmpl[i] if i < len(tmpl) else None, f"{path}[{i}]")
                 for i, (v, t) in enumerate(zip(value, types_, strict=True)))


def _array(value: Any, template: Any, path: str, allow_nonfinite: bool) -> np.ndarray:
    want = template.shape if isinstance(template, np.ndarray) else None
    dtype = template.dtype if isinstance(template, np.ndarray) else np.dtype(float)

    def flat(v: Any, p: str, depth: int) -> Any:
        if isinstance(v, list):
            return [flat(x, f"{p}[{i}]", depth + 1) for i, x in enumerate(v)]
        if dtype.kind == "b":
            return decode(v, bool, None, p)
        if dtype.kind in "iu":
            return decode(v, int, None, p)
        return _float(v, p, allow_nonfinite)

    if not isinstance(value, list):
        _fail(path, f"expected a list of numbers, got {_show(value)}")
    items = flat(value, path, 0)
    try:
        arr = np.array(items, dtype=dtype)
    except ValueError:
        _fail(path, "a ragged list is not an array")
    except OverflowError:
        _fail(path, f"a value does not fit {dtype}")
    if want is not None and arr.shape != want:
        _fail(path, f"expected shape {want}, got {arr.shape}")
    return arr


# ------------------------------------------------------------------------------ types


@cache
def persisted_types(cls: type) -> dict[str, Any]:
    """The declared type (class annotation) of each attribute in ``cls.persist``; None when
    there is none (the template's type is used)."""
    names = tuple(getattr(cls, "persist", ()))
    out: dict[str, Any] = dict.fromkeys(names)
    for klass in reversed(cls.__mro__):
        notes = klass.__dict__.get("__annotations__", {})
        mod = sys.modules.get(klass.__module__)
        scope = dict(vars(mod)) if mod is not None else {}
        for name in names:
            if name not in notes:
                continue
            ann = notes[name]
            if isinstance(ann, str):
                try:
                    ann = eval(ann, scope, {})  # noqa: S307 - the class's own annotation
                except Exception as exc:  # noqa: BLE001
                    raise TypeError(f"{cls.__name__}.{name}: cannot resolve the annotation "
                                    f"{ann!r}: {exc}") from None
            out[name] = ann
    return out
