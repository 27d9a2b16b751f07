"""Just enough Kubernetes protobuf decoding for the POSTs kubectl insists on sending in protobuf.

`kubectl autoscale` POSTs an autoscaling/v1 HorizontalPodAutoscaler and `kubectl create deployment` an
apps/v1 Deployment as `application/vnd.kubernetes.protobuf`: the magic `k8s\\0`, then a `runtime.Unknown`
{1 typeMeta {1 apiVersion, 2 kind}, 2 raw}. `raw` is the object's message; the fields below are the ones
those commands fill in. Field numbers are from k8s.io/api's generated.proto files.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

MAGIC = b"k8s\x00"

Obj = dict[str, Any]


class ProtobufError(ValueError):
    """The body is not a protobuf message this module can read."""


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise ProtobufError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ProtobufError("varint too long")


def fields(buf: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) for each field; varints as int, length-delimited as bytes."""
    pos = 0
    while pos < len(buf):
        tag, pos = _varint(buf, pos)
        num, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
            yield num, wire, value
        elif wire == 2:
            length, pos = _varint(buf, pos)
            if pos + length > len(buf):
                raise ProtobufError("truncated length-delimited field")
            yield num, wire, buf[pos : pos + length]
            pos += length
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
        if pos > len(buf):
            raise ProtobufError("truncated field")


def _str(v: int | bytes) -> str:
    if not isinstance(v, bytes):
        raise ProtobufError("expected a string")
    return v.decode("utf-8")


def _int32(v: int | bytes) -> int:
    if not isinstance(v, int):
        raise ProtobufError("expected a varint")
    return v - (1 << 64) if v >= 1 << 63 else v


def _bytes(v: int | bytes) -> bytes:
    if not isinstance(v, bytes):
        raise ProtobufError("expected a message")
    return v


# A schema maps field number → (json name, decoder, repeated?)
Decoder = Callable[[int | bytes], Any]
Schema = dict[int, tuple[str, Decoder, bool]]


def _message(schema: Schema) -> Decoder:
    return lambda v: decode(_bytes(v), schema)


def _map_entry(v: int | bytes) -> tuple[str, str]:
    key = value = ""
    for num, _, val in fields(_bytes(v)):
        if num == 1:
            key = _str(val)
        elif num == 2:
            value = _str(val)
    return key, value


def decode(buf: bytes, schema: Schema) -> Obj:
    """Decode a message by `schema`; unknown fields are skipped, empty strings and maps are dropped."""
    out: Obj = {}
    for num, _, val in fields(buf):
        if num not in schema:
            continue
        name, dec, repeated = schema[num]
        if dec is _map_entry:
            k, v = _map_entry(val)
            out.setdefault(name, {})[k] = v
            continue
        value = dec(val)
        if repeated:
            out.setdefault(name, []).append(value)
        elif value != "" and value != {}:
            out[name] = value
    return out


OBJECT_META: Schema = {
    1: ("name", _str, False),
    2: ("generateName", _str, False),
    3: ("namespace", _str, False),
    11: ("labels", _map_entry, False),
    12: ("annotations", _map_entry, False),
    14: ("finalizers", _str, True),
}
CROSS_VERSION_REF: Schema = {
    1: ("kind", _str, False),
    2: ("name", _str, False),
    3: ("apiVersion", _str, False),
}
HPA_V1: Schema = {
    1: ("metadata", _message(OBJECT_META), False),
    2: (
        "spec",
        _message(
            {
                1: ("scaleTargetRef", _message(CROSS_VERSION_REF), False),
                2: ("minReplicas", _int32, False),
                3: ("maxReplicas", _int32, False),
                4: ("targetCPUUtilizationPercentage", _int32, False),
            }
        ),
        False,
    ),
}
LABEL_SELECTOR: Schema = {1: ("matchLabels", _map_entry, False)}
CONTAINER_PORT: Schema = {
    1: ("name", _str, False),
    2: ("hostPort", _int32, False),
    3: ("containerPort", _int32, False),
    4: ("protocol", _str, False),
}
ENV_VAR: Schema = {1: ("name", _str, False), 2: ("value", _str, False)}
CONTAINER: Schema = {
    1: ("name", _str, False),
    2: ("image", _str, False),
    3: ("command", _str, True),
    4: ("args", _str, True),
    5: ("workingDir", _str, False),
    6: ("ports", _message(CONTAINER_PORT), True),
    7: ("env", _message(ENV_VAR), True),
    8: ("resources", _message({}), False),
    14: ("imagePullPolicy", _str, False),
}
POD_SPEC: Schema = {
    2: ("containers", _message(CONTAINER), True),
    3: ("restartPolicy", _str, False),
    8: ("serviceAccountName", _str, False),
    20: ("initContainers", _message(CONTAINER), True),
}
DEPLOYMENT_V1: Schema = {
    1: ("metadata", _message(OBJECT_META), False),
    2: (
        "spec",
        _message(
            {
                1: ("replicas", _int32, False),
                2: ("selector", _message(LABEL_SELECTOR), False),
                3: (
                    "template",
                    _message(
                        {
                            1: ("metadata", _message(OBJECT_META), False),
                            2: ("spec", _message(POD_SPEC), False),
                        }
                    ),
                    False,
                ),
                4: ("strategy", _message({1: ("type", _str, False)}), False),
                5: ("minReadySeconds", _int32, False),
            }
        ),
        False,
    ),
}
SCHEMAS: dict[tuple[str, str], Schema] = {
    ("autoscaling/v1", "HorizontalPodAutoscaler"): HPA_V1,
    ("apps/v1", "Deployment"): DEPLOYMENT_V1,
}


def decode_object(body: bytes) -> Obj:
    """A `k8s\\0` + runtime.Unknown body → the JSON-shaped object; ProtobufError when it can't."""
    if not body.startswith(MAGIC):
        raise ProtobufError("missing the k8s protobuf magic prefix")
    type_meta = raw = None
    for num, _, val in fields(body[len(MAGIC) :]):
        if num == 1:
            type_meta = decode(_bytes(val), {1: ("apiVersion", _str, False), 2: ("kind", _str, False)})
        elif num == 2:
            raw = _bytes(val)
    if not type_meta or raw is None:
        raise ProtobufError("runtime.Unknown without typeMeta or raw")
    api_version, kind = type_meta.get("apiVersion", ""), type_meta.get("kind", "")
    schema = SCHEMAS.get((api_version, kind))
    if schema is None:
        raise ProtobufError(f"protobuf bodies for {api_version} {kind} are not supported; send JSON")
    obj = decode(raw, schema)
    obj.setdefault("metadata", {})
    return {"apiVersion": api_version, "kind": kind, **obj}
