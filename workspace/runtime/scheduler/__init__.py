"""The scheduler (SPEC §6): ``trigger_schedule`` nodes fire by themselves, exactly once per
slot, with one leader among any number of scheduler processes. See README.md."""

from workspace.runtime.scheduler.clock import Clock, FakeClock, SystemClock
from workspace.runtime.scheduler.control import ScheduleControl
from workspace.runtime.scheduler.scheduler import Scheduler
from workspace.runtime.scheduler.spec import ScheduleSpec
from workspace.runtime.scheduler.sync import ScheduleSync

__all__ = [
    "Clock",
    "FakeClock",
    "ScheduleControl",
    "ScheduleSpec",
    "ScheduleSync",
    "Scheduler",
    "SystemClock",
]
