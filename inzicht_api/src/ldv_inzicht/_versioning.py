"""Which API a path belongs to, and so the `API-Version` header every response carries
(set by `ldv_inzicht._security_headers.ResponseHeadersMiddleware`).

Each API of the app (read API, register API, inzage ...) lives under its own versioned base
path such as `/lezenapi/v1` and has its own semantic version (NL GOV API Design Rules: the
major version in the path, the full version in the `API-Version` header).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

API_VERSION_HEADER = "API-Version"


class CamelModel(BaseModel):
    """A response model whose fields are camelCase on the wire (NL GOV API Design Rules)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


@dataclass(frozen=True)
class ApiInfo:
    """One API served by the app: its base path, title and semantic version."""

    prefix: str
    title: str
    version: str
    description: str = ""
    tags: tuple[dict[str, str], ...] = ()

    def __post_init__(self) -> None:
        if not self.prefix.startswith("/") or self.prefix.endswith("/"):
            raise ValueError(f"API prefix must start and not end with '/': {self.prefix!r}")
        if self.version.count(".") != 2:
            raise ValueError(f"API version must be major.minor.patch: {self.version!r}")


@dataclass
class ApiRegistry:
    """The APIs of one app; answers which API (and version) a request path belongs to."""

    default_version: str
    apis: list[ApiInfo] = field(default_factory=list)

    def add(self, info: ApiInfo) -> None:
        if any(a.prefix == info.prefix for a in self.apis):
            raise ValueError(f"an API is already registered at {info.prefix}")
        self.apis.append(info)
        # Longest prefix first, so /x/v1/sub beats /x.
        self.apis.sort(key=lambda a: len(a.prefix), reverse=True)

    def api_for(self, path: str) -> ApiInfo | None:
        return next((info for info in self.apis if path == info.prefix or path.startswith(info.prefix + "/")), None)

    def version_for(self, path: str) -> str:
        info = self.api_for(path)
        return info.version if info else self.default_version
