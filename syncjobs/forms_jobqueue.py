"""The job queue entry card's form (BC: page 673 "Job Queue Entry Card"): recurrence, inactivity timeout, attempts,
rerun delay, earliest start (UTC) and status, validated against BC's bounds (:mod:`syncjobs.jobqueue_edit`)."""
from __future__ import annotations

from typing import Any

from django import forms

from syncjobs.jobqueue_edit import (
    INACTIVITY_TIMEOUT_MINUTES,
    MAXIMUM_ATTEMPTS,
    MINUTES_BETWEEN_RUNS,
    RERUN_DELAY_SECONDS,
    EntrySettings,
    status_choices,
)
from syncjobs.models import JobQueueEntry


def _amount(value: int, unit: str) -> str:
    """``"1 minute"``, ``"5 minutes"``: ``unit`` is plural, made singular for 1."""
    return f"{value} {unit[:-1] if value == 1 else unit}"


def _bounded(label: str, bounds: tuple[int, int], unit: str, help_text: str) -> forms.IntegerField:
    low, high = bounds
    return forms.IntegerField(
        label=label, min_value=low, max_value=high, help_text=f"{help_text} ({low}–{high} {unit}).",
        error_messages={"min_value": f"{label} must be at least {_amount(low, unit)}.",
                        "max_value": f"{label} must be at most {_amount(high, unit)}.",
                        "required": f"Enter {label.lower()}.", "invalid": f"{label} must be a whole number."},
    )


class JobQueueEntryForm(forms.Form):
    """Edits one job queue entry; ``settings()`` gives the :class:`EntrySettings` for the service."""

    no_of_minutes_between_runs = _bounded("No. of minutes between runs", MINUTES_BETWEEN_RUNS, "minutes",
                                          "How often a recurring entry runs while it finds work")
    inactivity_timeout_period = _bounded("Inactivity timeout period", INACTIVITY_TIMEOUT_MINUTES, "minutes",
                                         "When a run finds nothing to do, the entry waits this long On Hold with "
                                         "Inactivity Timeout")
    maximum_no_of_attempts_to_run = _bounded("Maximum no. of attempts to run", MAXIMUM_ATTEMPTS, "attempts",
                                             "Failed runs are repeated until this many attempts, then the status "
                                             "is Error")
    rerun_delay_sec = _bounded("Rerun delay", RERUN_DELAY_SECONDS, "seconds", "Wait before a failed run is repeated")
    earliest_start_date_time = forms.DateTimeField(
        label="Earliest start date/time (UTC)", required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"],
        help_text="Blank: as soon as the entry is due. Times are UTC.",
        error_messages={"invalid": "Enter the earliest start as a date and time, e.g. 2026-12-31 08:00 (UTC)."},
    )
    status = forms.ChoiceField(label="Status", help_text="Ready: the dispatcher starts it when due. On Hold: it "
                               "does not run until set Ready.")

    def __init__(self, *args: Any, entry: JobQueueEntry, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {
            "no_of_minutes_between_runs": entry.no_of_minutes_between_runs,
            "inactivity_timeout_period": entry.inactivity_timeout_period,
            "maximum_no_of_attempts_to_run": entry.maximum_no_of_attempts_to_run,
            "rerun_delay_sec": entry.rerun_delay_sec,
            "earliest_start_date_time": entry.earliest_start_date_time,
            "status": entry.status,
        })
        super().__init__(*args, **kwargs)
        self.entry = entry
        self.fields["status"].choices = status_choices(entry)
        self.fields["status"].error_messages["invalid_choice"] = (
            "Choose Ready or On Hold (In Process, Error and Finished are set by runs).")

    def settings(self) -> EntrySettings:
        """The validated values (call after ``is_valid()``)."""
        data = self.cleaned_data
        return EntrySettings(
            no_of_minutes_between_runs=data["no_of_minutes_between_runs"],
            inactivity_timeout_period=data["inactivity_timeout_period"],
            maximum_no_of_attempts_to_run=data["maximum_no_of_attempts_to_run"],
            rerun_delay_sec=data["rerun_delay_sec"],
            earliest_start_date_time=data["earliest_start_date_time"],
            status=data["status"],
        )
