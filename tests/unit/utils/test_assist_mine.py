"""The audit as the mine keeps it (_utils/assist_mine.py): its own time and period, a
failure as data (a mine function that raises leaves the old answer in the cache), and
a fresh answer asked for after a change, only where a minion runs the job."""

import datetime

from salt.exceptions import CommandExecutionError

from tests.unit.conftest import assist_mine

JOBS = {"assist_mine": {"function": "mine.send", "args": ["assist.mine_audit"], "minutes": 5, "splay": 60}}


def test_the_answer_carries_when_it_was_taken_in_utc_and_its_period():
    before = datetime.datetime.now(datetime.timezone.utc)
    found = assist_mine.answer(lambda: {"result": True}, JOBS)
    taken = datetime.datetime.fromisoformat(found["taken"])
    assert taken.utcoffset() == datetime.timedelta(0) and before <= taken <= datetime.datetime.now(datetime.timezone.utc)
    assert (found["period"], found["audit"]) == (300, {"result": True})
    assert assist_mine.answer(dict, {})["period"] is None  # no job: sent only at start and each mine_interval


def test_a_failing_audit_is_an_answer_naming_the_failure_never_an_exception():
    def audit():
        raise CommandExecutionError('pillar assist:client is "stopped"; use running or dead')

    found = assist_mine.answer(audit, JOBS)
    assert found["error"] == 'pillar assist:client is "stopped"; use running or dead' and "audit" not in found


def test_the_pillars_schedule_wins_over_the_minion_configs():
    opts = {"schedule": {"assist_mine": {"minutes": 5}, "other": {}}}
    assert assist_mine.schedule(opts, {"schedule": {"assist_mine": {"minutes": 15}}}) == {
        "assist_mine": {"minutes": 15},
        "other": {},
    }


def test_a_fresh_answer_is_asked_of_the_minions_scheduler_only_where_the_job_runs():
    fired = []
    funcs = {"event.fire": lambda data, tag: fired.append((data, tag)) or True}
    assist_mine.refresh(funcs, {"__cli": "salt-minion"}, JOBS)
    assert fired == [({"func": "run_job", "name": "assist_mine"}, "manage_schedule")]
    assist_mine.refresh(funcs, {"__cli": "salt-call"}, JOBS)  # no minion may be there to hear it
    assist_mine.refresh(funcs, {"__cli": "salt-minion"}, {})  # the pillar does not schedule it
    assert len(fired) == 1


def test_an_event_that_cannot_be_fired_leaves_the_change_made_and_is_logged(caplog):
    def fire(data, tag):
        raise OSError("the minion's event bus is gone")

    assist_mine.refresh({"event.fire": fire}, {}, JOBS)
    assert "cannot ask for a fresh mine answer: the minion's event bus is gone" in caplog.text
