"""The hardware catalog: GPU types and rack types.

A site file names rack types; the catalog says what a rack type is: how many GPUs of which type,
how big its NVLink domain is, what it draws at idle and at full load, how it is cooled and how
much floor it takes. GPU types carry the power, memory and capital cost the twin's physics and
money need. The catalog is its own file (``sample_sites/catalog.yaml``) so both campuses share it.
"""

from __future__ import annotations

import re
import typing
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

#: Characters no name or text of a user's file may hold: control characters other than tab and
#: line breaks (an ESC sequence in a tenant's name would clear the terminal that prints it, or
#: retitle its window) and the bidirectional overrides that make text read other than it is.
HOSTILE_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


class Strict(BaseModel):
    """Base for every user-facing model: unknown fields are errors, not silently dropped; a
    number is never read from ``true``/``false`` (YAML reads yes, no, on and off as those, and
    pydantic would take them as 1 and 0: ``gpus: yes`` leased one GPU); no text holds
    :data:`HOSTILE_CHARACTERS`."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _plain_values(cls, value: object, info: ValidationInfo) -> object:
        if isinstance(value, str):
            bad = HOSTILE_CHARACTERS.search(value)
            if bad:
                raise ValueError(
                    f"holds the control character U+{ord(bad.group()):04X} at position {bad.start() + 1}; "
                    "use printable text"
                )
        elif isinstance(value, bool):
            annotation = cls.model_fields[info.field_name].annotation
            kinds = typing.get_args(annotation) or (annotation,)
            if bool not in kinds and any(k in (int, float) for k in kinds):
                raise ValueError(
                    f"write a number here, not {str(value).lower()} (YAML reads yes/no/on/off as true/false)"
                )
        return value


class GpuType(Strict):
    """One GPU model, with the numbers the twin's power and money models need."""

    power_max_w: float = Field(gt=0, description="board power at full load, W")
    power_idle_w: float = Field(ge=0, description="board power when idle, W")
    memory_gb: float = Field(gt=0, description="HBM per GPU, GB")
    capex_usd: float = Field(gt=0, description="all-in capital cost per GPU, incl. network share")
    useful_life_years: float = Field(5.5, gt=0, le=20, description="straight-line depreciation")
    source: str = Field("", description="where its figures come from")

    @model_validator(mode="after")
    def _idle_below_max(self) -> GpuType:
        if self.power_idle_w >= self.power_max_w:
            raise ValueError("power_idle_w must be below power_max_w")
        return self


class RackType(Strict):
    """One rack design: GPUs, power envelope, cooling and footprint."""

    gpu_type: str = Field(description="a GPU type of this catalog")
    gpus: int = Field(gt=0, le=1024, description="GPUs in one rack")
    gpus_per_server: int = Field(8, gt=0, description="GPUs in one server or compute tray")
    nvlink_domain_gpus: int = Field(gt=0, description="GPUs in one NVLink domain")
    max_kw: float = Field(gt=0, le=2000, description="rack IT draw at full load, kW")
    idle_kw: float = Field(ge=0, description="rack IT draw with GPUs idle, kW")
    cooling: Literal["air", "liquid"] = Field(description="air or liquid")
    footprint_mm: tuple[int, int] = Field((600, 1200), description="width, depth in mm")
    nic_gbps_per_gpu: float = Field(400, gt=0, description="scale-out bandwidth per GPU")
    source: str = Field("", description="where its figures come from")

    @model_validator(mode="after")
    def _idle_below_max(self) -> RackType:
        if self.idle_kw >= self.max_kw:
            raise ValueError("idle_kw must be below max_kw")
        if self.gpus % self.gpus_per_server:
            raise ValueError("gpus must be a whole number of servers (gpus_per_server)")
        if min(self.footprint_mm) <= 0:
            raise ValueError("footprint_mm must be two positive lengths (width, depth)")
        return self


class Catalog(Strict):
    """All GPU and rack types a site may use."""

    gpu_types: dict[str, GpuType] = Field(min_length=1, description="GPU models by name")
    rack_types: dict[str, RackType] = Field(min_length=1, description="rack models by name")
