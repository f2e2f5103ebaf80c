"""Validates Kubernetes objects against the real API schemas, the way the API server would on create.

- Custom resources: the `openAPIV3Schema` of the matching CRD version from the upstream CRD files (the folder
  `tests.conftest.CRDS_DIR`, one sub-folder per release such as `gie-v1.0.0`), as a structural schema:
  defaults are applied first, then types, formats, bounds, patterns (RE2, as Go), enums, required fields,
  list types and `x-kubernetes-int-or-string`; unknown fields are errors (strict field validation) except
  under `x-kubernetes-preserve-unknown-fields`; then every `x-kubernetes-validations` CEL rule is evaluated
  with cel-python on the defaulted value (transition rules, which use `oldSelf`, only when an old object is
  given, as on update).
- Core kinds: `kubernetes-validate`'s bundled strict JSON schemas for the given Kubernetes versions (offline).
- Metadata of both: ObjectMeta's schema plus the name and label/annotation key formats the API server
  enforces.

    errors = validate(obj, releases=("gie-v1.0.0", "gateway-api-v1.4.1"))   # [] when valid
"""

from __future__ import annotations

import copy
import functools
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import celpy
import jsonschema
import kubernetes_validate
import kubernetes_validate.utils
import re2
import yaml
from celpy import celtypes
from referencing import Registry, Resource

from tests.conftest import CRDS_DIR

# The oldest Kubernetes the project supports (the gateway add-on needs 1.30) and the newest schemas bundled.
KUBERNETES_VERSIONS = ("1.30", kubernetes_validate.latest_version())
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
# Kinds whose names the API server checks as DNS-1035 / DNS-1123 labels instead of subdomains.
_NAME_RULES = {"Service": (_DNS_1035_LABEL, 63), "Namespace": (_DNS_LABEL, 63)}
_INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}


@dataclass(frozen=True)
class CrdVersion:
    release: str
    group: str
    kind: str
    version: str
    scope: str
    schema: dict[str, Any]

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"


@functools.cache
def release_crds(release: str, crds_dir: Path = CRDS_DIR) -> tuple[CrdVersion, ...]:
    """Every served version of every CRD in one release folder (libyaml: the Envoy Gateway CRDs are large)."""
    found = []
    for path in sorted((crds_dir / release).glob("*.yaml")):
        for document in yaml.load_all(path.read_text(), Loader=yaml.CSafeLoader):
            if not document or document.get("kind") != "CustomResourceDefinition":
                continue
            spec = document["spec"]
            found += [
                CrdVersion(
                    release=release,
                    group=spec["group"],
                    kind=spec["names"]["kind"],
                    version=version["name"],
                    scope=spec["scope"],
                    schema=version["schema"]["openAPIV3Schema"],
                )
                for version in spec["versions"]
                if version.get("served", True)
            ]
    return tuple(found)


def crd_version(release: str, api_version: str, kind: str, crds_dir: Path = CRDS_DIR) -> CrdVersion | None:
    if not (crds_dir / release).is_dir():
        raise ValueError(f"no release folder {release} in {crds_dir}")
    return next(
        (crd for crd in release_crds(release, crds_dir) if crd.api_version == api_version and crd.kind == kind), None
    )


# ----------------------------------------------------------------------------------------------- structural


def apply_defaults(value: Any, schema: dict[str, Any]) -> Any:
    """A copy of `value` with the schema's defaults filled in, as the API server does before validating."""
    value = copy.deepcopy(value)
    _default(value, schema)
    return value


def _default(value: Any, schema: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for name, child in (schema.get("properties") or {}).items():
            if name not in value and "default" in child:
                value[name] = copy.deepcopy(child["default"])
            if name in value:
                _default(value[name], child)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for name in set(value) - set(schema.get("properties") or {}):
                _default(value[name], extra)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            _default(item, schema["items"])


def _is_type(value: Any, expected: str) -> bool:
    if expected == "object":
        return isinstance(value, dict)
    if expected == "array":
        return isinstance(value, list)
    if expected == "string":
        return isinstance(value, str)
    if expected == "boolean":
        return isinstance(value, bool)
    if expected == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if expected == "number":
        return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    raise ValueError(f"unknown schema type {expected}")


class _Checker:
    def __init__(self):
        self.errors: list[str] = []

    def fail(self, path: str, message: str) -> None:
        self.errors.append(f"{path or '<root>'}: {message}")

    def check(self, value: Any, schema: dict[str, Any], path: str, old: Any = None) -> None:
        if value is None:
            if not schema.get("nullable"):
                self.fail(path, "must not be null")
            return
        expected = schema.get("type")
        if schema.get("x-kubernetes-int-or-string"):
            if not (_is_type(value, "integer") or _is_type(value, "string")):
                self.fail(path, "must be an integer or a string")
                return
        elif expected is not None and not _is_type(value, expected):
            self.fail(path, f"must be of type {expected}, not {type(value).__name__}")
            return
        self._scalar(value, schema, path)
        if isinstance(value, dict):
            self._object(value, schema, path, old)
        elif isinstance(value, list):
            self._array(value, schema, path, old)
        for combinator in ("allOf", "anyOf", "oneOf"):
            if combinator in schema:
                self._combination(combinator, value, schema[combinator], path)
        if "not" in schema and self._passes(value, schema["not"], path):
            self.fail(path, "matches a schema it must not match")
        self._cel(value, schema, path, old)

    def _passes(self, value: Any, schema: dict[str, Any], path: str) -> bool:
        probe = _Checker()
        probe.check(value, schema, path)
        return not probe.errors

    def _combination(self, combinator: str, value: Any, schemas: list[dict[str, Any]], path: str) -> None:
        passing = sum(self._passes(value, schema, path) for schema in schemas)
        if combinator == "allOf" and passing != len(schemas):
            self.fail(path, "does not match all of the allOf schemas")
        if combinator == "anyOf" and passing == 0:
            self.fail(path, "matches none of the anyOf schemas")
        if combinator == "oneOf" and passing != 1:
            self.fail(path, f"matches {passing} of the oneOf schemas instead of exactly one")

    def _scalar(self, value: Any, schema: dict[str, Any], path: str) -> None:
        if "enum" in schema and value not in schema["enum"]:
            self.fail(path, f"must be one of {schema['enum']}")
        if isinstance(value, str):
            if "maxLength" in schema and len(value) > schema["maxLength"]:
                self.fail(path, f"is longer than {schema['maxLength']} characters")
            if "minLength" in schema and len(value) < schema["minLength"]:
                self.fail(path, f"is shorter than {schema['minLength']} characters")
            if "pattern" in schema and re2.search(schema["pattern"], value) is None:
                self.fail(path, f"does not match {schema['pattern']}")
        if _is_type(value, "number"):
            if "minimum" in schema and (
                value <= schema["minimum"] if schema.get("exclusiveMinimum") else value < schema["minimum"]
            ):
                self.fail(path, f"is below the minimum {schema['minimum']}")
            if "maximum" in schema and (
                value >= schema["maximum"] if schema.get("exclusiveMaximum") else value > schema["maximum"]
            ):
                self.fail(path, f"is above the maximum {schema['maximum']}")
            low_high = _INT_RANGES.get(schema.get("format", ""))
            if low_high and not low_high[0] <= value <= low_high[1]:
                self.fail(path, f"is out of the {schema['format']} range")

    def _object(self, value: dict[str, Any], schema: dict[str, Any], path: str, old: Any) -> None:
        properties = schema.get("properties") or {}
        for name in schema.get("required") or []:
            if name not in value:
                self.fail(path, f"misses the required field `{name}`")
        if "maxProperties" in schema and len(value) > schema["maxProperties"]:
            self.fail(path, f"has more than {schema['maxProperties']} properties")
        if "minProperties" in schema and len(value) < schema["minProperties"]:
            self.fail(path, f"has fewer than {schema['minProperties']} properties")
        extra = schema.get("additionalProperties")
        preserve = schema.get("x-kubernetes-preserve-unknown-fields")
        embedded = schema.get("x-kubernetes-embedded-resource")
        for name, item in value.items():
            child_path = f"{path}.{name}" if path else name
            old_item = old.get(name) if isinstance(old, dict) else None
            if name in properties:
                if child_path == "metadata" or (embedded and name == "metadata"):
                    continue  # ObjectMeta: checked by `metadata_errors`
                self.check(item, properties[name], child_path, old_item)
            elif isinstance(extra, dict):
                self.check(item, extra, child_path, old_item)
            elif embedded and name in ("apiVersion", "kind", "metadata"):
                continue
            elif not preserve and extra is not True:
                self.fail(child_path, "is not a field of this schema (unknown field)")

    def _array(self, value: list[Any], schema: dict[str, Any], path: str, old: Any) -> None:
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            self.fail(path, f"has more than {schema['maxItems']} items")
        if "minItems" in schema and len(value) < schema["minItems"]:
            self.fail(path, f"has fewer than {schema['minItems']} items")
        list_type = schema.get("x-kubernetes-list-type")
        if (list_type == "set" or schema.get("uniqueItems")) and len({repr(i) for i in value}) != len(value):
            self.fail(path, "has duplicate items (a set)")
        if list_type == "map":
            keys = schema.get("x-kubernetes-list-map-keys") or []
            seen = [tuple(item.get(key) for key in keys) for item in value if isinstance(item, dict)]
            if len(set(seen)) != len(seen):
                self.fail(path, f"has duplicate items for the map keys {keys}")
        if isinstance(schema.get("items"), dict):
            for index, item in enumerate(value):
                self.check(item, schema["items"], f"{path}[{index}]")

    def _cel(self, value: Any, schema: dict[str, Any], path: str, old: Any) -> None:
        for validation in schema.get("x-kubernetes-validations") or []:
            rule = validation["rule"]
            transition = "oldSelf" in rule
            if transition and old is None:
                continue  # transition rules run on update only
            activation = {"self": celpy.json_to_cel(value)}
            if transition:
                activation["oldSelf"] = celpy.json_to_cel(old)
            try:
                result = _program(rule).evaluate(activation)
            except celpy.CELEvalError as error:
                self.fail(path, f"CEL rule `{rule}` could not be evaluated: {error}")
                continue
            if isinstance(result, celpy.CELEvalError):
                self.fail(path, f"CEL rule `{rule}` could not be evaluated: {result}")
            elif not bool(result):
                self.fail(path, validation.get("message") or f"failed the CEL rule `{rule}`")


def _split(text: celtypes.StringType, separator: celtypes.StringType) -> celtypes.ListType:
    """Kubernetes CEL strings extension `split` (not in the CEL standard library)."""
    return celtypes.ListType([celtypes.StringType(part) for part in str(text).split(str(separator))])


_CEL_EXTENSIONS = {"split": _split}


@functools.cache
def _program(rule: str) -> Any:
    environment = celpy.Environment()
    return environment.program(environment.compile(rule), functions=_CEL_EXTENSIONS)


def validate_against_crd(obj: dict[str, Any], crd: CrdVersion, old: dict[str, Any] | None = None) -> list[str]:
    """Errors of a custom resource against one CRD version (empty when the API server would accept it)."""
    checker = _Checker()
    defaulted = apply_defaults(obj, crd.schema)
    checker.check(defaulted, crd.schema, "", apply_defaults(old, crd.schema) if old is not None else None)
    errors = checker.errors
    errors += metadata_errors(obj, cluster_scoped=crd.scope == "Cluster")
    if obj.get("apiVersion") != crd.api_version or obj.get("kind") != crd.kind:
        errors.append(f"<root>: is not a {crd.kind} {crd.api_version}")
    return errors


# --------------------------------------------------------------------------------------------- core objects


def _label_key_errors(key: str) -> str | None:
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        return "has an invalid prefix"
    if not name or len(name) > 63 or not _QUALIFIED_NAME.match(name):
        return "is not a qualified name"
    return None


def metadata_errors(obj: dict[str, Any], cluster_scoped: bool | None = None) -> list[str]:
    """ObjectMeta's schema (through an otherwise empty ConfigMap) plus what the API server checks on names."""
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict):
        return ["metadata: is required"]
    errors = [
        f"metadata: {error}"
        for error in _core_errors({"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata}, KUBERNETES_VERSIONS)
    ]
    name = metadata.get("name")
    pattern, limit = _NAME_RULES.get(obj.get("kind"), (_DNS_SUBDOMAIN, 253))
    if not isinstance(name, str) or len(name) > limit or not pattern.match(name):
        errors.append(f"metadata.name: `{name}` is not a valid {obj.get('kind')} name")
    if cluster_scoped is not None and cluster_scoped == ("namespace" in metadata):
        errors.append("metadata.namespace: " + ("must not be set" if cluster_scoped else "is required"))
    for key, value in (metadata.get("labels") or {}).items():
        problem = _label_key_errors(key)
        if problem:
            errors.append(f"metadata.labels: key `{key}` {problem}")
        if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.match(value):
            errors.append(f"metadata.labels.{key}: is not a valid label value")
    for key in metadata.get("annotations") or {}:
        problem = _label_key_errors(key)
        if problem:
            errors.append(f"metadata.annotations: key `{key}` {problem}")
    return errors


_CLUSTER_SCOPED_CORE = {"Namespace", "PersistentVolume", "ClusterRole", "ClusterRoleBinding"}


def _schema_dir(version: str) -> str:
    """The bundled strict schema folder `kubernetes_validate.validate(obj, version, strict=True)` reads: the
    newest bundled release not newer than `version` (its own comparison, kept as it is)."""
    utils = kubernetes_validate.utils
    desired = utils.major_minor(version.removeprefix("v"))
    if desired > utils.latest_version():
        raise utils.VersionNotSupportedError(version=desired)
    bundled = [v for v in utils.all_versions() if utils.major_minor(v) <= desired][-1]
    return f"v{bundled}-local-strict"


@functools.cache
def _definitions(schema_dir: str) -> Resource:
    """The `_definitions.json` (1.3 MB) every kind of one schema folder refers to, parsed once."""
    return Resource.from_contents(
        kubernetes_validate.utils.schema_contents(f"kubernetes-json-schema/{schema_dir}/_definitions.json", schema_dir)
    )


@functools.cache
def _core_validator(api_version: str, kind: str, version: str) -> jsonschema.protocols.Validator | None:
    """The validator `kubernetes_validate.validate(obj, version, strict=True)` builds (same files, same
    registry, same Draft 2020-12 class), built once per kind and version instead of on every call; None when
    no bundled schema covers the kind."""
    schema_dir = _schema_dir(version)
    # rbac.authorization.k8s.io/v1 -> rbac-v1, as kubernetes_validate names its files.
    file_api_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    try:
        schema = kubernetes_validate.utils.schema_contents(
            f"kubernetes-json-schema/{schema_dir}/{kind.lower()}-{file_api_version}.json", version
        )
    except FileNotFoundError:
        return None
    registry = _definitions(schema_dir) @ (Resource.from_contents(schema) @ Registry())
    return jsonschema.validators.Draft202012Validator(schema, registry=registry)


def _core_validation_error(obj: dict[str, Any], version: str) -> jsonschema.ValidationError | None:
    """The error `kubernetes_validate.validate(obj, version, strict=True)` raises (its first one), or None."""
    validator = _core_validator(obj["apiVersion"], obj["kind"], version)
    if validator is None:
        raise kubernetes_validate.SchemaNotFoundError(
            version=kubernetes_validate.utils.major_minor(version), kind=obj["kind"], api_version=obj["apiVersion"]
        )
    return next(validator.iter_errors(obj), None)


def _core_errors(obj: dict[str, Any], versions: Iterable[str]) -> list[str]:
    errors = []
    for version in versions:
        error = _core_validation_error(obj, version)
        if error is not None:
            where = ".".join(str(part) for part in error.path)
            errors.append(f"{where or '<root>'}: {error.message} (Kubernetes {version})")
    return errors


def validate_core(obj: dict[str, Any], versions: Sequence[str] = KUBERNETES_VERSIONS) -> list[str]:
    return _core_errors(obj, versions) + metadata_errors(obj, cluster_scoped=obj.get("kind") in _CLUSTER_SCOPED_CORE)


def is_core(obj: dict[str, Any]) -> bool:
    """Whether the bundled Kubernetes schemas know the kind (built-in API), rather than a CRD."""
    # The strict and non-strict schema folders hold the same kinds.
    return _core_validator(obj["apiVersion"], obj["kind"], KUBERNETES_VERSIONS[0]) is not None


def validate(obj: dict[str, Any], releases: Sequence[str], old: dict[str, Any] | None = None) -> list[str]:
    """Errors of one object: core kinds against the Kubernetes schemas, custom resources against the CRD of
    every given release that serves their kind and version (an object no given release serves is an error)."""
    if is_core(obj):
        return validate_core(obj)
    matching = [crd for release in releases if (crd := crd_version(release, obj["apiVersion"], obj["kind"]))]
    if not matching:
        return [f"<root>: no CRD in {', '.join(releases)} serves {obj['kind']} {obj['apiVersion']}"]
    return [f"[{crd.release}] {error}" for crd in matching for error in validate_against_crd(obj, crd, old)]
