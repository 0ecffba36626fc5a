"""A cheaper constructor for the frozen dataclasses built once per fact (issue 15).

A frozen dataclass's generated `__init__` sets every field with its own `object.__setattr__` call (about 1 µs for
a lab result of nine fields, and a call builds hundreds of facts). `quick_init` gives the class an `__init__` with
the same signature and defaults that installs the instance's attributes in one step. The object is the same (its
attributes, `==`, hash, repr and immutability do not change): only building it is cheaper.
"""

from __future__ import annotations

from dataclasses import MISSING, fields, is_dataclass
from typing import Any, TypeVar

T = TypeVar("T")


class _Factory:
    """Marks a parameter whose default comes from the field's `default_factory` (as dataclasses does)."""

    def __repr__(self) -> str:
        return "<factory>"


_FACTORY = _Factory()


def quick_init(cls: type[T]) -> type[T]:
    """Replace the generated `__init__` of a frozen, non-slotted dataclass (no `__post_init__`, no keyword-only
    or init=False fields) by one that sets the instance `__dict__` at once."""
    params = cls.__dict__.get("__dataclass_params__")
    if not is_dataclass(cls) or params is None or not params.frozen or "__slots__" in cls.__dict__ \
            or hasattr(cls, "__post_init__"):
        raise TypeError(f"quick_init needs a frozen dataclass without slots or __post_init__: {cls.__name__}")
    namespace: dict[str, Any] = {"_set": object.__setattr__, "_FACTORY": _FACTORY}
    arguments: list[str] = []
    factories: list[str] = []
    names: list[str] = []
    for item in fields(cls):
        if not item.init or item.kw_only or item.name.startswith("_") or item.name == "self":
            raise TypeError(f"quick_init cannot build field {item.name!r} of {cls.__name__}")
        names.append(item.name)
        if item.default is not MISSING:
            namespace[f"_default_{item.name}"] = item.default
            arguments.append(f"{item.name}=_default_{item.name}")
        elif item.default_factory is not MISSING:
            namespace[f"_factory_{item.name}"] = item.default_factory
            arguments.append(f"{item.name}=_FACTORY")
            factories.append(f"    if {item.name} is _FACTORY:\n        {item.name} = _factory_{item.name}()\n")
        else:
            arguments.append(item.name)
    attributes = ", ".join(f"{name!r}: {name}" for name in names)
    source = (f"def __init__(self, {', '.join(arguments)}):\n" + "".join(factories)
              + f"    _set(self, '__dict__', {{{attributes}}})\n")
    exec(source, namespace)
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__doc__ = cls.__init__.__doc__
    cls.__init__ = init  # type: ignore[method-assign]
    return cls
