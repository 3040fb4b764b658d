"""Generate the app's clients from the live schema as the app team does, and fail on any flaw.

The Flutter team generates its Dart client from ``GET /api/v1/schema/``. This script reads
that schema from the running Django application (in process, the test settings) and runs
the three checks of issue 17, each of which once caught a real defect:

1. ``openapi-spec-validator``: the document is valid OpenAPI 3 (a path parameter that is
   not in its path once made the whole document invalid).
2. ``openapi-python-client`` with ``--fail-on-warning``: every endpoint is generated and
   no warning is printed (it used to drop ``portfolios/{id}/risk``). Its documented
   ``content_type_overrides`` maps our ``image/png`` responses to bytes
   (``scripts/openapi-python-client.yml``); that tool knows no other binary type.
3. ``openapi-generator-cli`` (the jar the pip package ships, run on the machine's Java)
   with ``-g dart-dio`` and ``-g dart``: the generated Dart references no type that it
   does not define (``CurrentRegimeEnum`` from ``oneOf[XEnum, NullEnum]``, ``OneOf0Enum``
   from inline enums once did). There is no Dart SDK on these machines, so
   :func:`undefined_dart_types` parses the generated sources: every capitalised
   identifier used outside comments and string literals must be a class, enum, typedef,
   mixin or extension defined in the package, or a name of the Dart SDK or of a package
   the generator imports (:data:`EXTERNAL_DART_NAMES`, fixed for the pinned generator).
   A new external name after a generator upgrade fails loudly rather than passing.

Usage::

    python scripts/check_api_clients.py [--keep DIR]

Exit status 0 when every check passes; otherwise each problem is printed and it is 1.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON_CLIENT_CONFIG = ROOT / "scripts" / "openapi-python-client.yml"
DART_GENERATORS = ("dart-dio", "dart")
# openapi-generator 7.x logs this for every inline `examples` entry (it looks for a `$ref` in
# each example): a quirk of the generator, not a flaw of the document; any other WARN fails.
BENIGN_GENERATOR_WARNINGS = ("ModelUtils - Failed to get the schema name: null",)

# Names the generated Dart may use without defining them: the Dart SDK (dart:core,
# dart:async, dart:convert, dart:io, dart:typed_data) and the packages the two
# generators import (dio, built_value, built_collection, one_of, http, intl, collection,
# meta). Model names never belong here.
EXTERNAL_DART_NAMES = frozenset(
    ["Object", "String", "int", "double", "num", "bool", "Null", "Never", "Iterable", "Iterator", "List", "Map", "MapEntry", "Set", "Type", "DateTime", "Duration", "Uri", "Future", "FutureOr", "Stream", "Function", "Exception", "Error", "StateError", "ArgumentError", "FormatException", "UnimplementedError", "UnsupportedError", "TypeError", "Symbol", "StackTrace", "Comparable", "Pattern", "RegExp", "StringBuffer", "Uint8List", "Encoding", "Utf8Codec", "JsonEncoder", "JsonDecoder", "HttpHeaders", "HttpStatus", "IOException", "SocketException", "Platform", "TlsException", "HandshakeException", "ClientException", "Client", "Response", "Request", "StreamedRequest", "MultipartRequest", "MultipartFile", "BaseRequest", "BaseResponse", "StreamedResponse", "ByteStream", "DateFormat", "DeepCollectionEquality", "ListEquality", "MapEquality", "IterableExtension", "Dio", "DioException", "DioExceptionType", "BaseOptions", "Options", "RequestOptions", "ResponseType", "CancelToken", "ProgressCallback", "Interceptor", "InterceptorsWrapper", "QueuedInterceptor", "RequestInterceptorHandler", "ResponseInterceptorHandler", "ErrorInterceptorHandler", "FormData", "ListFormat", "Headers", "Transformer", "ListParam", "ValidateStatus", "AbortableRequest", "AbortableStreamedRequest", "AbortableMultipartRequest", "Deprecated", "Built", "Builder", "BuiltValue", "BuiltValueField", "BuiltValueHook", "BuiltValueSerializer", "BuiltValueEnum", "BuiltValueEnumConst", "EnumClass", "Serializer", "Serializers", "SerializersBuilder", "PrimitiveSerializer", "StructuredSerializer", "FullType", "JsonObject", "StandardJsonPlugin", "Iso8601DateTimeSerializer", "BuiltList", "BuiltMap", "BuiltSet", "ListBuilder", "MapBuilder", "SetBuilder", "BuiltListMultimap", "BuiltSetMultimap", "SerializersFor", "OneOf", "OneOf1", "OneOf2", "OneOf3", "OneOf4", "OneOf5", "AnyOf", "AnyOf1", "AnyOf2", "AnyOf3", "OneOfSerializer", "AnyOfSerializer", "OneOfDynamic", "AnyOfDynamic"]
)

_COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.DOTALL)
_STRING = re.compile(r"r?'''.*?'''|r?\"\"\".*?\"\"\"|r?'(?:\\.|[^'\\\n])*'|r?\"(?:\\.|[^\"\\\n])*\"", re.DOTALL)
_DEFINITION = re.compile(
    r"\b(?:class|enum|typedef|mixin|extension(?:\s+type)?)\s+([A-Za-z_$][A-Za-z0-9_$]*)"
)
_IDENTIFIER = re.compile(r"(?<![\w$.])([A-Z][A-Za-z0-9_]*)\b")
_INTERPOLATION = re.compile(r"\$\{([^{}]*)\}")


def _strip(source: str) -> str:
    """Drop comments and string literals but keep the code of ``${...}`` interpolations."""

    def keep_interpolations(match: re.Match[str]) -> str:
        return " ".join(_INTERPOLATION.findall(match.group(0)))

    return _STRING.sub(keep_interpolations, _COMMENT.sub(" ", source))


def undefined_dart_types(sources: Iterable[str]) -> set[str]:
    """Capitalised identifiers used in ``sources`` that nothing defines.

    Generated ``part`` files (``_$Foo``, ``$Foo``) are skipped: build_runner writes them
    on the app team's side, and with them ``FooBuilder`` for every ``Built<Foo, FooBuilder>``
    class defined here. Members such as ``FullType.unspecified`` are not types (only
    identifiers not preceded by a dot count), nor are one-letter generic parameters.
    """
    codes = [_strip(source) for source in sources]
    defined = {name for code in codes for name in _DEFINITION.findall(code)}
    defined |= {f"{name}Builder" for name in defined}
    used = {name for code in codes for name in _IDENTIFIER.findall(code) if len(name) > 1}
    return used - defined - EXTERNAL_DART_NAMES


_TRUNCATED = re.compile(r"(?:&&|\|\||=>)[ \t]*\n\s*(?:@override|\}|;)")


def truncated_dart_expressions(sources: Iterable[str]) -> int:
    """How many expressions end in ``&&``/``||``/``=>`` with nothing after them.

    ``-g dart`` writes ``other is Foo &&`` and then nothing for a model it cannot
    represent (a ``oneOf`` of a string enum and a map did that): code that does not parse.
    """
    return sum(len(_TRUNCATED.findall(_strip(source))) for source in sources)


def schema_from_live_app() -> dict:
    """The document the app team downloads: ``GET /api/v1/schema/`` in process."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rebalancer.settings.test")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.test import Client

    response = Client(HTTP_HOST="localhost").get("/api/v1/schema/", {"format": "json"})
    if response.status_code != 200:
        raise SystemExit(f"GET /api/v1/schema/ answered {response.status_code}")
    return json.loads(response.content)


def check_spec(schema: dict) -> list[str]:
    from openapi_spec_validator import validate
    from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

    try:
        validate(schema)
    except OpenAPIValidationError as exc:
        return [f"openapi-spec-validator: {exc.message}"]
    return []


def _bin(name: str) -> str:
    here = Path(sys.executable).parent / name
    return str(here) if here.exists() else name


def check_python_client(schema_path: Path, out: Path) -> list[str]:
    result = subprocess.run(
        [_bin("openapi-python-client"), "generate", "--path", str(schema_path),
         "--output-path", str(out / "python"), "--meta", "none", "--overwrite",
         "--fail-on-warning", "--config", str(PYTHON_CLIENT_CONFIG)],
        capture_output=True, text=True, check=False,
    )
    # "ruff is not in PATH" is about formatting the output, not about the schema.
    lines = [
        line for line in (result.stdout + result.stderr).splitlines()
        if line.strip() and "ruff is not in PATH" not in line and "Skipping Integration" not in line
        and not line.startswith("Generating ")
    ]
    if result.returncode != 0 or lines:
        return ["openapi-python-client: " + "\n  ".join(lines or [f"exit {result.returncode}"])]
    return []


def check_dart(schema_path: Path, out: Path, generator: str) -> list[str]:
    target = out / generator
    result = subprocess.run(
        [_bin("openapi-generator-cli"), "generate", "-i", str(schema_path), "-g", generator,
         "-o", str(target), "--global-property", "apiTests=false,modelTests=false,apiDocs=false,modelDocs=false"],
        capture_output=True, text=True, check=False, env={**os.environ, "JAVA_OPTS": "-Xss4m"},
    )
    problems = []
    if result.returncode != 0:
        problems.append(f"openapi-generator {generator}: exit {result.returncode}\n{result.stdout[-3000:]}")
        return problems
    warnings = [
        line for line in result.stdout.splitlines()
        if (" WARN " in line or " ERROR " in line) and not any(b in line for b in BENIGN_GENERATOR_WARNINGS)
    ]
    if warnings:
        problems.append(f"openapi-generator {generator}: " + "\n  ".join(warnings))
    sources = [path.read_text() for path in sorted((target / "lib").rglob("*.dart"))]
    undefined = undefined_dart_types(sources)
    if undefined:
        problems.append(f"openapi-generator {generator}: undefined types {sorted(undefined)}")
    truncated = truncated_dart_expressions(sources)
    if truncated:
        problems.append(f"openapi-generator {generator}: {truncated} truncated expressions (unparseable Dart)")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", type=Path, help="write the schema and generated clients here")
    args = parser.parse_args(argv)
    out = args.keep or Path(tempfile.mkdtemp(prefix="api-clients-"))
    out.mkdir(parents=True, exist_ok=True)
    try:
        schema = schema_from_live_app()
        schema_path = out / "schema.json"
        schema_path.write_text(json.dumps(schema, indent=1))
        problems = check_spec(schema)
        if not problems:  # the generators' messages on an invalid document only repeat it
            # the three generators at once: each is mostly a JVM or interpreter starting up
            with ThreadPoolExecutor(max_workers=3) as pool:
                runs = [pool.submit(check_python_client, schema_path, out)]
                runs += [pool.submit(check_dart, schema_path, out, generator) for generator in DART_GENERATORS]
                for run in runs:
                    problems += run.result()
    finally:
        if args.keep is None:
            shutil.rmtree(out, ignore_errors=True)
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print(f"schema valid; python, {', '.join(DART_GENERATORS)} clients generated with no warning "
              "and no undefined type")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
