"""The reporting service's own settings (environment variables CRM_REPORTING_*), with working
defaults for the embedded mode: the company's time zone, in which budget and indicator periods
begin and end (the same setting, and default, as the quotes service's CRM_QUOTES_TIME_ZONE:
deploy/config.env sets both to one value), and how often the read-model gauges are refreshed."""

from __future__ import annotations

from functools import cached_property
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from crm_platform.config import load_settings

PREFIX = "CRM_REPORTING_"


class ReportingSettings(BaseSettings):
    """CRM_REPORTING_<FIELD> for each field, e.g. CRM_REPORTING_TIME_ZONE=America/Mexico_City."""

    model_config = SettingsConfigDict(
        alias_generator=lambda name: PREFIX + name.upper(), populate_by_name=True, extra="ignore"
    )

    # IANA zone of the company: the quarter starting 2026-04-01 runs from 2026-04-01 00:00 to
    # 2026-07-01 00:00 there (a deal won at 23:30 on March 31 in Bogotá counts in Q1).
    time_zone: str = "America/Bogota"
    # Seconds between refreshes of the read-model gauges on /metrics (events applied per stream,
    # data age, last rebuild duration).
    gauges_seconds: float = Field(default=5.0, gt=0, le=3600)

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"'{value}' is not an IANA time zone such as America/Bogota") from None
        return value

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


def reporting_settings() -> ReportingSettings:
    return load_settings(ReportingSettings, f"the reporting service ({PREFIX}*)")
