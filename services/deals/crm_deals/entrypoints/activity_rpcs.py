"""The activity RPCs of DealsService (GetActivity, ListActivities, CreateActivity, UpdateActivity,
DeleteActivity, CompleteActivity, CancelActivity): translate messages and call the activity use
cases. Mixed into DealsServicer (entrypoints/grpc_servicer.py)."""

from __future__ import annotations

from crm_deals.adapters.contacts_directory import ContactsDirectory
from crm_platform.db import Database


class ActivityRpcs:
    db: Database
    directory: ContactsDirectory
