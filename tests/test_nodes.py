"""@frozen classes (language/nodes.py) behave as @dataclass(frozen=True) ones: equality, hash, repr, no assignment,
replace, pickle, pattern matching — for the syntax tree's nodes and the plan's."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from dataclasses import FrozenInstanceError, dataclass, field
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pkrules.language import ast
from pkrules.language.nodes import Frozen, frozen
from pkrules.language.source import Span


def _spec(cls):
    cls.__annotations__ = {"value": "object", "label": "str", "where": "object", "items": "tuple"}
    cls.label = ""
    cls.where = field(default=None, compare=False, repr=False)
    cls.items = field(default_factory=tuple)
    return cls


@frozen
@_spec
class Quick(Frozen):
    pass


@dataclass(frozen=True)
@_spec
class Reference:
    pass


values = st.one_of(st.integers(-3, 3), st.fractions(max_denominator=4).filter(lambda f: abs(f) < 3), st.text(max_size=2),
                   st.none(), st.booleans())
made = st.tuples(values, st.text(max_size=2), values, st.lists(values, max_size=2).map(tuple))


@given(a=made, b=made)
def test_equality_hash_and_repr_are_the_dataclasses(a, b):
    qa, qb, ra, rb = Quick(*a), Quick(*b), Reference(*a), Reference(*b)
    assert (qa == qb) == (ra == rb) and (qa != qb) == (ra != rb)
    assert hash(qa) == hash(ra) and repr(qa) == repr(ra).replace("Reference", "Quick")
    assert (qa == qa) and not (qa == ra) and qa != a  # another class is never equal, as the dataclass has it


def test_a_field_is_never_assigned_or_deleted_once_made():
    node = Quick(1, "x")
    for attempt in (lambda: setattr(node, "value", 2), lambda: setattr(node, "other", 2),
                    lambda: delattr(node, "value")):
        with pytest.raises(FrozenInstanceError):
            attempt()
    assert node.value == 1 and not hasattr(node, "other")
    object.__setattr__(node, "_cache", 7)  # (what a node keeps about itself, as ast.children does)
    assert node._cache == 7 and node == Quick(1, "x")


def test_replace_copy_pickle_and_matching_work_as_on_a_dataclass():
    node = Quick(Fraction(1, 3), "a", where="line 4", items=(1, 2))
    assert dataclasses.replace(node, label="b") == Quick(Fraction(1, 3), "b", items=(1, 2))
    assert copy.deepcopy(node) == node and pickle.loads(pickle.dumps(node)) == node
    assert [f.name for f in dataclasses.fields(node)] == ["value", "label", "where", "items"]
    match node:
        case Quick(value, label):
            assert (value, label) == (Fraction(1, 3), "a")
        case _:
            pytest.fail("not matched by position")
    with pytest.raises(TypeError):
        Quick()  # the __init__ is the dataclass's: value is required
    with pytest.raises(TypeError):
        frozen(type("Plain", (), {}))  # a class that does not derive from Frozen is refused


def test_without_equality_a_node_is_only_itself():
    @frozen(eq=False)
    class Step(Frozen):
        n: int

    a, b = Step(1), Step(1)
    assert a != b and a == a and len({a, b}) == 2 and repr(a).endswith(".Step(n=1)")  # (the dataclass shows __qualname__ too)


def test_syntax_nodes_compare_as_they_always_did():
    here, there = Span(1, 1, 1, 5), Span(9, 3, 9, 7)
    assert ast.Name("sales", here) == ast.Name("sales", there)  # spans never compare
    assert hash(ast.Name("sales", here)) == hash(ast.Name("sales", there))
    assert ast.Number(Fraction(1, 2), text="0.5") == ast.Number(Fraction(1, 2), text="50%")  # nor the text written
    assert ast.Number(Fraction(1, 2)) != ast.Percent(Fraction(1, 2))
    assert repr(ast.Name("sales")) == "Name(name='sales')"
