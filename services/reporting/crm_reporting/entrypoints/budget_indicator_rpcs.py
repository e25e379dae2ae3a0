"""The budget and indicator RPCs of ReportingService (GetBudget, ListBudgets, CreateBudget,
UpdateBudget, DeleteBudget, GetIndicators). Mixed into ReportingServicer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from crm_platform.db import Database


class BudgetIndicatorRpcs:
    db: Database
    clock: Callable[[], datetime]
