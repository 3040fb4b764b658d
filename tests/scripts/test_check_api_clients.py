"""The client-generation check of ``make test`` (scripts/check_api_clients.py) catches what it must.

The generators themselves run in ``make test`` (about 30 s of Java); these tests pin the
Dart parsing on the two defects issue 17 found, and validate the live schema fast.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "check_api_clients.py"
spec = importlib.util.spec_from_file_location("check_api_clients", SCRIPT)
check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check)

# What dart-dio wrote for `current_regime: oneOf[MarketRegimeEnum, NullEnum]` (abridged).
NULLABLE_ONEOF_MODEL = """
import 'package:built_value/built_value.dart';
part 'market_regime_output.g.dart';
// enum currentRegimeEnum {  bull,  bear,  sideways,  ,  };
@BuiltValue()
abstract class MarketRegimeOutput implements Built<MarketRegimeOutput, MarketRegimeOutputBuilder> {
  @BuiltValueField(wireName: r'current_regime')
  CurrentRegimeEnum? get currentRegime;
  static Serializer<MarketRegimeOutput> get serializer => _$MarketRegimeOutputSerializer();
}
"""
ENUM = """
class MarketRegimeEnum extends EnumClass {
  static const MarketRegimeEnum bull = _$bull;
  const MarketRegimeEnum._(String name): super(name);
}
"""


def test_a_type_that_nothing_defines_is_reported():
    # when
    undefined = check.undefined_dart_types([NULLABLE_ONEOF_MODEL, ENUM])
    # then: the builder comes with the Built class, the comment and the strings are ignored
    assert undefined == {"CurrentRegimeEnum"}


def test_the_same_model_with_a_defined_enum_passes():
    fixed = NULLABLE_ONEOF_MODEL.replace("CurrentRegimeEnum", "MarketRegimeEnum")
    assert check.undefined_dart_types([fixed, ENUM]) == set()


def test_an_undefined_type_inside_a_full_type_and_an_interpolation_is_reported():
    source = "final t = const FullType(OneOf, [FullType(OneOf0Enum)]); final s = '${Missing.x}';"
    assert check.undefined_dart_types([source]) == {"OneOf0Enum", "Missing"}


def test_a_truncated_equality_is_reported():
    # what -g dart wrote for a oneOf of a string enum and a map
    source = """
  @override
  bool operator ==(Object other) => identical(this, other) || other is Foo &&

  @override
  int get hashCode =>
    // ignore: unnecessary_parenthesis

  @override
  String toString() => 'Foo[]';
"""
    assert check.truncated_dart_expressions([source]) == 2
    assert check.truncated_dart_expressions(["bool get x => a &&\n      b;"]) == 0


@pytest.mark.django_db
def test_the_live_schema_is_valid_openapi():
    # given the document the app downloads
    from django.test import Client

    response = Client().get("/api/v1/schema/", {"format": "json"})
    # then
    assert response.status_code == 200
    assert check.check_spec(response.json()) == []
