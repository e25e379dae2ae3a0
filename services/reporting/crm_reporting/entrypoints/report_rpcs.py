"""The report RPCs of ReportingService (GetReportDefinition, ListReportDefinitions,
CreateReportDefinition, UpdateReportDefinition, DeleteReportDefinition, RunReport, ExportReport).
Mixed into ReportingServicer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from crm_platform.db import Database


class ReportRpcs:
    db: Database
    clock: Callable[[], datetime]
