"""Progress of synchronization jobs as the pages show it: state in words, counters with their legend, rate, time
remaining and, when a pass read records but wrote none, a line saying why.

Improvement on BC: BC's "Integration Synch. Job" list (table 5338 Integration Synch. Job) shows the counters only
after the job ends; here the pass commits ``processed`` and its counters after every batch
(:mod:`syncjobs.engine.passes.base`), and these functions turn one job row into what a page or its JSON poll shows,
without further queries.

Units: seconds, records per second, UTC datetimes.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone

from mappings.models import CouplingLogEntry, Direction
from syncjobs.models import FullSyncReviewLine, SynchronizationJob

JobStatus = FullSyncReviewLine.JobStatus
TO = Direction.TO_INTEGRATION_TABLE
FROM = Direction.FROM_INTEGRATION_TABLE

#: No rate (and no time remaining) is shown before a pass has run this many seconds: a rate over a few
#: milliseconds says nothing (a pass of 3 records in 2 ms is not "1,500 records per second").
MIN_RATE_SECONDS = 1.0


@dataclass(frozen=True)
class Counter:
    """One counter of a synchronization job: the model field ``name`` and its words on the pages (what each means is
    said by the legend, ``templates/syncjobs/synchronizationjob_legend.html``)."""

    name: str
    label: str


#: The counters in the order the pages show them (BC: table 5338 Integration Synch. Job, fields Inserted, Modified,
#: Deleted, Unchanged, Skipped, Failed, Coupled, Uncoupled; "already coupled" is the portal's own, from match-based
#: coupling, where BC counts such records as skipped).
COUNTERS: tuple[Counter, ...] = (
    Counter("inserted", "inserted"),
    Counter("modified", "modified"),
    Counter("deleted", "deleted"),
    Counter("unchanged", "unchanged"),
    Counter("skipped", "skipped"),
    Counter("failed", "failed"),
    Counter("coupled", "coupled"),
    Counter("already_coupled", "already coupled"),
    Counter("uncoupled", "uncoupled"),
)
COUNTER_NAMES = tuple(counter.name for counter in COUNTERS)
#: Counters that mean something was written (or linked) on a side.
WRITTEN = ("inserted", "modified", "deleted", "coupled", "uncoupled")

#: Why a pass of a table reads fewer records than the table holds, or reads records it does not write, by (BC table,
#: direction). Source: the default mappings' table filters and the rules of :mod:`syncjobs.engine.rules`.
LEFT_OUT_REASONS: dict[tuple[str, str], str] = {
    ("Sales Header", TO): (
        "Business Central sends only released sales orders to Dynamics 365 Sales (table filter Status = Released; "
        'BC: codeunit 5340 "CRM Integration Table Synch."): release an order in Business Central to send it'
    ),
    ("Sales Header", FROM): (
        "only submitted Dynamics 365 Sales orders come to Business Central (integration table filter "
        "StateCode = Submitted): submit an order in Sales to send it"
    ),
    ("Sales Line", TO): "only lines of sales orders already coupled to a Dynamics 365 Sales order take part",
    ("Sales Line", FROM): "only order products of orders already coupled to a Business Central order take part",
    ("Sales Invoice Line", TO): "only lines of posted invoices already coupled to a Dynamics 365 Sales invoice "
                                "take part",
}


def records_handled(job: SynchronizationJob) -> int:
    """Records the job gave an outcome: the sum of its counters (records read again in the overlap window and
    already synchronized, or left out by the table's rule, are read but not handled)."""
    return sum(getattr(job, name) for name in COUNTER_NAMES)


def records_written(job: SynchronizationJob) -> int:
    """Records inserted, modified, deleted, coupled or uncoupled by the job."""
    return sum(getattr(job, name) for name in WRITTEN)


def job_elapsed_seconds(job: SynchronizationJob, now: datetime | None = None) -> float:
    """Seconds from the job's start to its end, or to ``now`` (UTC) while it runs; never negative."""
    end = job.finished_at or now or timezone.now()
    return max((end - job.started_at).total_seconds(), 0.0) if job.started_at else 0.0


def job_rate(job: SynchronizationJob, now: datetime | None = None) -> float | None:
    """Records handled per second (:func:`records_handled` over the elapsed seconds); None when no record was
    handled yet or the pass ran less than :data:`MIN_RATE_SECONDS`."""
    seconds = job_elapsed_seconds(job, now)
    handled = records_handled(job)
    if handled <= 0 or seconds < MIN_RATE_SECONDS:
        return None
    return handled / seconds


def job_remaining_seconds(job: SynchronizationJob, now: datetime | None = None) -> float | None:
    """Seconds left while the job runs: the records not read yet (``total`` − ``processed``) at the speed the job
    has read records so far (``processed`` per elapsed second). None when the job has finished, its total is unknown,
    nothing was read yet, or it ran less than :data:`MIN_RATE_SECONDS`."""
    if job.finished_at is not None or job.total is None or job.processed <= 0:
        return None
    seconds = job_elapsed_seconds(job, now)
    if seconds < MIN_RATE_SECONDS:
        return None
    return max(job.total - job.processed, 0) / (job.processed / seconds)


def remaining_words(seconds: float | None) -> str:
    """Time remaining as words: "less than a minute left", "about 1 minute left", "about 2 minutes left",
    "about 1 hour 5 minutes left"; "" for None."""
    if seconds is None:
        return ""
    minutes = int(seconds / 60 + 0.5)  # half a minute up, not to the even number
    if minutes < 1:
        return "less than a minute left"
    if minutes < 60:
        return f"about {minutes} minute{'s' if minutes != 1 else ''} left"
    hours, rest = divmod(minutes, 60)
    text = f"about {hours} hour{'s' if hours != 1 else ''}"
    if rest:
        text += f" {rest} minute{'s' if rest != 1 else ''}"
    return f"{text} left"


def job_status(job: SynchronizationJob | None) -> JobStatus:
    """The job's state (BC: table 5373 CRM Full Synch. Review Line, GetSynchJobStatus): none; running -> In
    Process; finished with failed records or unable to run -> Error; else Success."""
    if job is None:
        return JobStatus.NONE
    if job.finished_at is None:
        return JobStatus.IN_PROCESS
    return JobStatus.ERROR if job.failed or job.could_not_run else JobStatus.SUCCESS


def _plural(count: int, word: str = "record") -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def left_out_reason(job: SynchronizationJob) -> str:
    """Why records of the job's mapping are not read or not written in its direction: the table's own reason
    (:data:`LEFT_OUT_REASONS`), else the mapping's filter or Synch. Only Coupled Records; "" when none applies."""
    mapping = job.table_mapping
    reason = LEFT_OUT_REASONS.get((mapping.table, job.direction))
    if reason:
        return reason
    table_filter = mapping.table_filter if job.direction == TO else mapping.integration_table_filter
    if table_filter:
        return f"the mapping's {'table' if job.direction == TO else 'integration table'} filter ({table_filter}) " \
               "leaves the other records out"
    if mapping.synch_only_coupled_records and not job.full_synchronization:
        return "the mapping synchronizes only coupled records (Synch. Only Coupled Records); uncoupled ones wait " \
               "for a full synchronization or a coupling"
    return ""


def job_explanation(job: SynchronizationJob) -> str:
    """One sentence saying why a pass wrote nothing, or "".

    Given when the job read records (``processed`` > 0) but inserted, modified, deleted, coupled and uncoupled none,
    and when a finished pass found no record at all while its mapping filters the table (SALESORDER-ORDER with no
    released order). Names, in this order: failed records ("N failed: see errors"), unchanged ones ("all N records
    unchanged since the last synchronization"), skipped, already coupled, and records read but left out with the
    table's reason (:func:`left_out_reason`).
    """
    if job.could_not_run or records_written(job) > 0:
        return ""
    if job.processed <= 0:
        reason = left_out_reason(job) if job.finished_at is not None and job.total == 0 else ""
        return f"No records to synchronize: {reason}." if reason else ""
    parts: list[str] = []
    if job.failed:
        parts.append(f"{job.failed} failed: see errors")
    if job.unchanged:
        if job.unchanged >= job.processed:
            parts.append(f"all {_plural(job.unchanged)} unchanged since the last synchronization")
        else:
            parts.append(f"{job.unchanged} unchanged since the last synchronization")
    if job.skipped:
        parts.append(f"{job.skipped} skipped" + (
            " (no or several matching rows)" if job.type == SynchronizationJob.Type.COUPLING
            else " (excluded after failing twice: see Coupled data synchronization errors)"))
    if job.already_coupled:
        parts.append(f"{job.already_coupled} already coupled")
    left_out = job.processed - records_handled(job)
    if left_out > 0:
        reason = left_out_reason(job) or "they were synchronized already or the table's rule leaves them out"
        parts.append(f"{_plural(left_out)} read but not written: {reason}")
    if not parts:
        return ""
    text = "; ".join(parts)
    return f"Nothing written: {text}."


def job_progress(job: SynchronizationJob | None, now: datetime | None = None) -> dict[str, Any] | None:
    """A job's progress as JSON-ready data, or None for no job.

    Keys: ``id``; ``status`` (the JobStatus value) and ``status_label`` (its words, e.g. "In Process");
    ``running``; ``total`` (records counted at the start, None when the service could not count) and
    ``processed`` (records read so far); ``percent`` (0–100, None without a total); every counter of
    :data:`COUNTERS`; ``seconds`` elapsed; ``rate`` (records handled per second, :func:`job_rate`, rounded to 0.1);
    ``remaining_seconds`` and ``remaining_text`` (:func:`remaining_words`); ``message``; ``explanation``
    (:func:`job_explanation`); the words the pages show: ``records_text`` (:func:`records_text`), ``rate_text``,
    ``counters_text`` (:func:`counters_text`), ``finished_text`` (UTC) and ``duration_text``; ``finished_at`` (ISO
    8601, UTC, or None).
    """
    if job is None:
        return None
    now = now or timezone.now()
    status = job_status(job)
    rate = job_rate(job, now)
    remaining = job_remaining_seconds(job, now)
    percent = None
    if job.total:
        percent = min(round(100 * job.processed / job.total), 100)
    elif job.total == 0 and job.finished_at is not None:
        percent = 100
    return {
        "id": str(job.pk),
        "status": status.value,
        "status_label": status.label,
        "running": job.finished_at is None,
        "total": job.total,
        "processed": job.processed,
        "percent": percent,
        **{name: getattr(job, name) for name in COUNTER_NAMES},
        "seconds": round(job_elapsed_seconds(job, now), 1),
        "rate": round(rate, 1) if rate is not None else None,
        "remaining_seconds": round(remaining) if remaining is not None else None,
        "remaining_text": remaining_words(remaining),
        "message": job.message,
        "explanation": job_explanation(job),
        "records_text": records_text(job),
        "rate_text": f"{rate:,.1f} records per second" if rate is not None else "",
        "counters_text": counters_text(job),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "finished_text": f"{job.finished_at:%Y-%m-%d %H:%M:%S}" if job.finished_at else "running",
        "duration_text": f"{job_elapsed_seconds(job, now):,.1f} s",
    }


def records_text(job: SynchronizationJob) -> str:
    """"40 of 120 records" (records read of the total counted at the start), or "40 records" without a total."""
    if job.total is None:
        return _plural(job.processed)
    return f"{job.processed} of {_plural(job.total)}"


def counters_text(job: SynchronizationJob) -> str:
    """The non-zero counters in words ("3 inserted, 40 unchanged"), or "no records yet"."""
    parts = [f"{getattr(job, c.name)} {c.label}" for c in COUNTERS if getattr(job, c.name)]
    return ", ".join(parts) or "no records yet"


#: Coupling log lines one poll returns at most (the page asks again for the rest).
COUPLING_LOG_LINES_PER_POLL = 500


def coupling_log_lines(*, job: SynchronizationJob, after: int = 0, outcome: str = "",
                       limit: int = COUPLING_LOG_LINES_PER_POLL) -> list[dict[str, Any]]:
    """The coupling log lines of a match-based coupling ``job`` with a sequence above ``after``, in sequence order,
    at most ``limit``, only those of ``outcome`` when given (a ``CouplingLogEntry.Outcome`` value). Each line:
    ``sequence``, ``bc`` (name or id), ``outcome`` (value), ``outcome_label`` (words), ``dataverse`` (name or id, ""
    when none), ``message``. Raises ValueError naming the bad argument."""
    if after < 0:
        raise ValueError("after must be 0 or a coupling log sequence number")
    if outcome and outcome not in CouplingLogEntry.Outcome.values:
        raise ValueError(f"outcome must be one of {', '.join(CouplingLogEntry.Outcome.values)}")
    lines = CouplingLogEntry.objects.filter(job=job, sequence__gt=after)
    if outcome:
        lines = lines.filter(outcome=outcome)
    return [
        {
            "sequence": line.sequence,
            "bc": line.bc_name or str(line.bc_id),
            "outcome": line.outcome,
            "outcome_label": line.get_outcome_display(),
            "dataverse": line.dataverse_name or (str(line.dataverse_id) if line.dataverse_id else ""),
            "message": line.message,
        }
        for line in lines.order_by("sequence")[:limit]
    ]
