"""Frozen dataclasses made quickly: the syntax tree's nodes and the plan's, with only their __init__ compiled.

`@dataclass(frozen=True)` compiles six methods for each class as its module loads (__init__, __repr__,
__eq__, __hash__, __setattr__, __delattr__): for the syntax tree's 39 classes and the plan's 32, some 25 ms
of every command's start-up — a fifth of `explain --run`. `@frozen` has the dataclass compile only the
__init__; the other five are written once, in Frozen, and read each class's fields from getters made with
the class. They do what the dataclass's would: equality and hash over the fields that compare (and only
between instances of the same class), the same repr, and no assignment to a field once it has its value
(dataclasses.FrozenInstanceError). `@frozen(eq=False)` keeps identity for equality and hash, as
`@dataclass(frozen=True, eq=False)` does. tests/test_nodes.py holds them to the dataclass's.
"""

from __future__ import annotations

from dataclasses import FrozenInstanceError, dataclass, fields
from operator import attrgetter


class Frozen:
    """The methods every @frozen class shares (the class's getters are set by @frozen)."""

    __slots__ = ()
    _compared = _hashed = _shown = staticmethod(lambda self: ())

    def __eq__(self, other):
        if other.__class__ is self.__class__:
            return self._compared(self) == other._compared(other)
        return NotImplemented

    def __hash__(self):
        return hash(self._hashed(self))

    def __repr__(self) -> str:
        names = self._shown_names
        values = self._shown(self)
        return f"{self.__class__.__qualname__}({', '.join(f'{n}={v!r}' for n, v in zip(names, values))})"

    _shown_names: tuple = ()

    def __setattr__(self, name, value):
        # The dataclass's __init__ gives each field its value once; after that a field is never assigned again
        if name in self.__dict__ or name not in self.__dataclass_fields__:
            raise FrozenInstanceError(f"cannot assign to field {name!r}")
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        raise FrozenInstanceError(f"cannot delete field {name!r}")


def frozen(cls=None, /, *, eq: bool = True):
    """@frozen, or @frozen(eq=False): as @dataclass(frozen=True[, eq=False]) on a subclass of Frozen."""
    if cls is None:
        return lambda c: frozen(c, eq=eq)
    if not issubclass(cls, Frozen):
        raise TypeError(f"@frozen: {cls.__qualname__} must derive from Frozen")
    cls = dataclass(cls, eq=False, repr=False)
    every = fields(cls)
    cls._shown_names = tuple(f.name for f in every if f.repr)
    cls._shown = staticmethod(_getter(cls._shown_names))
    if eq:
        cls._compared = staticmethod(_getter(tuple(f.name for f in every if f.compare)))
        cls._hashed = staticmethod(_getter(tuple(f.name for f in every if (f.compare if f.hash is None else f.hash))))
    else:  # identity, as object has it
        cls.__eq__ = object.__eq__
        cls.__hash__ = object.__hash__
    return cls


def _getter(names: tuple[str, ...]):
    """self → the tuple of those fields' values (attrgetter gives a bare value for one name)."""
    if not names:
        return lambda self: ()
    if len(names) == 1:
        one = attrgetter(names[0])
        return lambda self: (one(self),)
    return attrgetter(*names)
