"""The ends of running jobs' run phases: a heap of bookings behind one SimPy timer.

A training job's run phase ends when its remaining work is done, unless a failure, a preemption
or a power cap changes it first. Giving every phase a SimPy timer of its own would leave a stale
timer behind at every change, and a 100k-GPU job changes every half hour. Instead each job has one
*booking* (its end time and a booking number) and ends wait in one heap, woken by one SimPy timer
armed for the earliest. These are :class:`~twin.engine.Engine` methods, a mixin so the engine
module keeps to scheduling and jobs; the engine calls :meth:`JobEnds._phase_done` when an end
comes up.
"""

from __future__ import annotations

import heapq
import itertools
import math

from twin.jobs import RUNNING, Job


class JobEnds:
    """Mixin for :class:`twin.engine.Engine`: booking run-phase ends and waking up for them."""

    def _init_ends(self) -> None:
        # The heap holds (time, booking number, job); the booking number keeps ends at the same
        # instant in the order they were booked.
        self._ends: list[tuple[float, int, Job]] = []
        self._bookings = itertools.count()
        self._ends_armed = math.inf  # when the next wake-up for ends fires
        self._end_wakeups: set[float] = set()
        self._ending = False

    def _end_at(self, job: Job, delay: float) -> None:
        """Book the end of the job's run phase ``delay`` hours from now; it replaces any earlier booking.

        Ends wait in a heap of their own, woken by one SimPy timer at the earliest. A failure that
        restarts a job books a new, later end; on a 100k-GPU job that happens every half hour. The
        new end goes into the heap only if the job has no entry there already that comes first
        (its *anchor*): when the anchor comes up, it is found stale and puts the job's current
        end in its place. So a job restarted a thousand times between two anchors costs one heap
        entry, not a thousand, and a new timer is needed only when the new end comes first. Ends
        keep their (time, booking number) keys, so they come up in the same order either way.
        """
        when = self.env.now + (delay if delay > 0.0 else 0.0)
        job.end_due, job.end_booking = when, next(self._bookings)
        if job.anchor_at <= when:
            return
        self._push_end(job)
        if when < self._ends_armed and not self._ending:
            self._arm_ends(when)

    def _push_end(self, job: Job) -> None:
        heapq.heappush(self._ends, (job.end_due, job.end_booking, job))
        job.anchor_at, job.anchor_booking = job.end_due, job.end_booking

    def _pop_end(self) -> Job | None:
        """Take the first entry off the heap: its job if it is the job's current end, else None
        (a stale anchor puts the job's current end in the heap instead)."""
        _, booking, job = heapq.heappop(self._ends)
        if booking == job.anchor_booking:
            job.anchor_at, job.anchor_booking = math.inf, -1
        if job.status != RUNNING:
            return None
        if booking == job.end_booking:
            return job
        if job.anchor_booking < 0:
            self._push_end(job)
        return None

    def _arm_ends(self, when: float) -> None:
        self._ends_armed = when
        if when not in self._end_wakeups:
            self._end_wakeups.add(when)
            self.at(when - self.env.now, lambda: self._ends_due(when))

    def _ends_due(self, when: float) -> None:
        self._end_wakeups.discard(when)
        if when != self._ends_armed:
            return  # an earlier end was booked after this wake-up; its own wake-up took over
        ends = self._ends
        self._ending = True
        while ends and ends[0][0] <= when:
            job = self._pop_end()
            if job is not None:
                self._phase_done(job)
        while ends and (ends[0][2].status != RUNNING or ends[0][1] != ends[0][2].end_booking):
            self._pop_end()  # stale: never worth a wake-up
        self._ending = False
        self._ends_armed = math.inf
        if ends:
            self._arm_ends(ends[0][0])
