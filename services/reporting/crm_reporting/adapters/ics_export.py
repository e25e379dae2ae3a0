"""A report's dated records as an iCalendar file (RFC 5545), built with the icalendar library.

One VEVENT per record: its UID is "<module>-<record id>@crm" and its SEQUENCE the record's version,
so importing a newer export updates the events instead of duplicating them. A date places an
all-day event (DTEND the day after, or the day after the end date for a campaign); a time places
an event at that time in the user's zone (TZID, with its VTIMEZONE; X-WR-TIMEZONE names it),
lasting the activity's duration when it has one. Events are serialised one at a time, so a large
export does not hold the whole calendar in memory."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import BinaryIO
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event

CONTENT_TYPE = "text/calendar"
PRODID = "-//CRM//Informes//ES"


@dataclass(frozen=True)
class CalendarItem:
    uid: str
    summary: str
    # A date (all-day) or an aware datetime.
    start: date | datetime
    # For all-day items: the last day (inclusive); for timed items: the end instant. None = the
    # start day only / no duration.
    end: date | datetime | None = None
    sequence: int = 0
    description: str = ""


def _event(item: CalendarItem, zone: ZoneInfo, stamp: datetime) -> Event:
    event = Event()
    event.add("uid", item.uid)
    event.add("dtstamp", stamp)
    event.add("summary", item.summary or "(sin título)")
    if isinstance(item.start, datetime):
        event.add("dtstart", item.start.astimezone(zone))
        if isinstance(item.end, datetime) and item.end > item.start:
            event.add("dtend", item.end.astimezone(zone))
    else:
        last = item.end if isinstance(item.end, date) and not isinstance(item.end, datetime) else item.start
        last = max(last, item.start)
        event.add("dtstart", item.start)
        event.add("dtend", last + timedelta(days=1))
    event.add("sequence", item.sequence)
    if item.description:
        event.add("description", item.description)
    return event


def write_calendar(out: BinaryIO, items: Iterable[CalendarItem], *, zone: ZoneInfo, name: str, stamp: datetime) -> int:
    """Writes the calendar; returns the number of events."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    cal.add("x-wr-timezone", zone.key)
    # The zone's VTIMEZONE: generated from a placeholder event at the generation time.
    probe = Event()
    probe.add("dtstart", stamp.astimezone(zone))
    cal.add_component(probe)
    cal.add_missing_timezones()
    cal.subcomponents.remove(probe)
    head = cal.to_ical()
    end = b"END:VCALENDAR\r\n"
    assert head.endswith(end)
    out.write(head[: -len(end)])
    n = 0
    for item in items:
        out.write(_event(item, zone, stamp).to_ical())
        n += 1
    out.write(end)
    return n
