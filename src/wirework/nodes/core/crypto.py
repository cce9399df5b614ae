"""The crypto node: hashes, HMAC signatures, UUIDs and random strings or bytes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import string
import uuid
from typing import Any, Literal

from pydantic import Field, model_validator

from wirework.engine.errors import NodeError
from wirework.engine.items import Item, Items, NodeOutputs, assign_path, canonical
from wirework.engine.nodes import Node, NodeContext, NodeParameters

_ALPHABET = string.ascii_letters + string.digits


class CryptoParameters(NodeParameters):
    operation: Literal["hash", "hmac", "uuid", "random_string", "random_bytes"] = Field(
        description="hash/hmac: of `value`; uuid: a random UUID v4; random_string: letters "
        "and digits; random_bytes: `length` bytes, encoded."
    )
    value: Any = Field(None, description="What to hash or sign (text; other JSON as JSON).")
    algorithm: Literal["md5", "sha1", "sha256", "sha512"] = "sha256"
    encoding: Literal["hex", "base64"] = "hex"
    secret: str | None = Field(None, description="hmac: the key.")
    length: int = Field(32, ge=1, le=4096, description="random_string/random_bytes: length.")
    field: str = Field("data", min_length=1, description="Where the result goes (dotted path).")

    @model_validator(mode="after")
    def _needs(self) -> CryptoParameters:
        if self.operation == "hmac" and not self.secret:
            raise ValueError("operation hmac needs a `secret`")
        if self.operation in ("hash", "hmac") and self.value is None:
            raise ValueError(f"operation {self.operation} needs a `value`")
        return self


class Crypto(Node):
    type = "core.crypto"
    display_name = "Crypto"
    description = "Hashes or signs a value, or makes a UUID or random string."
    category = "Data"
    icon = "key-round"
    Parameters = CryptoParameters

    async def run(self, ctx: NodeContext) -> NodeOutputs:
        out: Items = []
        for index, item in enumerate(ctx.items):
            with ctx.item_guard(index):
                params = ctx.params(CryptoParameters, index)
                new: Item = dict(item)
                assign_path(new, params.field, compute(params))
                out.append(new)
        return {"main": out}


def _bytes(value: Any) -> bytes:
    if isinstance(value, str):
        return value.encode()
    if value is None:
        raise NodeError("there is no value to hash")
    return canonical(value).encode()


def _encode(raw: bytes, encoding: str) -> str:
    return raw.hex() if encoding == "hex" else base64.b64encode(raw).decode("ascii")


def compute(params: CryptoParameters) -> str:
    if params.operation == "hash":
        # md5/sha1 are offered for checksums and legacy APIs, not for security.
        digest = hashlib.new(params.algorithm, _bytes(params.value), usedforsecurity=False)
        return _encode(digest.digest(), params.encoding)
    if params.operation == "hmac":
        assert params.secret is not None
        mac = hmac.new(params.secret.encode(), _bytes(params.value), params.algorithm)
        return _encode(mac.digest(), params.encoding)
    if params.operation == "uuid":
        return str(uuid.uuid4())
    if params.operation == "random_string":
        return "".join(secrets.choice(_ALPHABET) for _ in range(params.length))
    return _encode(secrets.token_bytes(params.length), params.encoding)
