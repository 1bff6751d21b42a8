"""The runner (_runners/assist.py), its pure parts: the report's counting and its
arguments, the rollout pillar's check and waves, the reactor's turn per minion."""

import concurrent.futures
import multiprocessing

import pytest
import salt.config
import salt.utils.minions

from tests.conftest import REPO, load_source
from tests.unit.facts import DEAD, DEFAULT, FROZEN, RUNNING

runner = load_source("assist_runner", REPO / "_runners" / "assist.py")


@pytest.fixture
def configure_loader_modules(tmp_path):
    return {
        runner: {"__opts__": {"cachedir": str(tmp_path), "assist_enforce_interval": 30}, "__context__": {}},
    }


# --------------------------------------------------------------------------- report


def audit(agent, drift=(), policy=DEFAULT):
    return {"ret": {"result": not drift, "policy": policy, "agent": agent, "drift": list(drift)}, "retcode": 1 if drift else 0}


def test_the_report_counts_compliant_drifted_errors_and_unreachable():
    answers = {
        "web-1": audit(RUNNING),
        "db-1": audit(RUNNING, ["client is running, policy says dead"], FROZEN),
        "bad-1": {"ret": 'ERROR: pillar assist:client is "stopped"; use running or dead', "retcode": 1},
        "old-1": {"ret": "'assist.audit' is not available.", "retcode": 254},
    }
    report = runner.summarise(["web-1", "db-1", "bad-1", "old-1", "gone-1"], answers)
    assert report["summary"] == {"targeted": 5, "answered": 4, "compliant": 1, "drifted": 1, "errors": 2, "unreachable": 1}
    assert report["drifted"] == {"db-1": ["client is running, policy says dead"]}
    assert report["errors"] == {
        "bad-1": 'pillar assist:client is "stopped"; use running or dead',
        "old-1": "'assist.audit' is not available.",
    }
    assert report["unreachable"] == ["gone-1"]
    # Counted over the minions whose audit answered (errors have no facts).
    assert report["counts"] == {
        "client": {"running": 2},
        "daemon": {"present": 2},
        "enable": {"on": 2},
        "version": {"2.5.3.650": 2},
        "init_system": {"sysvinit": 2},
    }


def test_the_report_counts_an_agent_not_installed_among_the_facts_not_the_errors():
    audit = {"result": True, "drift": [], "policy": FROZEN, "agent": dict(DEAD, client="not installed", version=None)}
    found = runner.summarise(["bare-1"], {"bare-1": {"ret": audit, "retcode": 0}})
    assert found["summary"] == {"targeted": 1, "answered": 1, "compliant": 1, "drifted": 0, "errors": 0, "unreachable": 0}
    assert found["counts"]["client"] == {"not installed": 1}
    assert found["counts"]["version"] == {"not installed": 1}
    assert found["errors"] == {}
    assert runner.rows(["bare-1"], {"bare-1": {"ret": audit, "retcode": 0}})[0] | {"detail": ""} == {
        "minion": "bare-1",
        "status": "compliant",
        "client": "not installed",
        "daemon": "absent",
        "enable": "off",
        "version": "not installed",
        "init_system": "sysvinit",
        "detail": "",
    }


def test_an_answer_that_is_no_audit_is_an_error_not_a_crash():
    report = runner.summarise(["x"], {"x": {"ret": {"result": True}, "retcode": 0}})
    assert report["errors"]["x"].startswith("unexpected answer from assist.audit")


def test_an_empty_target_gives_zero_counts():
    report = runner.summarise([], {})
    assert report["summary"] == dict.fromkeys(("targeted", "answered", "compliant", "drifted", "errors", "unreachable"), 0)


def test_rows_hold_the_same_keys_for_every_minion_for_the_table_outputter():
    answers = {"web-1": audit(RUNNING), "bad-1": {"ret": "ERROR: boom", "retcode": 1}}
    table = runner.rows(["web-1", "bad-1", "gone-1"], answers)
    assert [row["minion"] for row in table] == ["bad-1", "gone-1", "web-1"]
    assert [row["status"] for row in table] == ["error", "unreachable", "compliant"]
    assert len({tuple(sorted(row)) for row in table}) == 1
    assert all(isinstance(value, str) for row in table for value in row.values())
    assert table[0]["detail"] == "boom"
    assert table[2]["enable"] == "on"


@pytest.mark.parametrize(
    "kwargs, named",
    [
        ({"tgt_type": "bogus"}, "tgt_type is 'bogus'; use one of "),
        ({"tgt_type": "cache"}, "tgt_type is 'cache'; use one of "),
        ({"tgt_type": ["glob"]}, "tgt_type is ['glob']"),
        ({"timeout": -1}, "timeout is -1; give a whole number of seconds"),
        ({"timeout": "soon"}, "timeout is 'soon'"),
        ({"gather_job_timeout": 0}, "gather_job_timeout is 0"),
        ({"strict": "yes"}, "strict is 'yes'; use True or False"),
        ({"by_minion": 1}, "by_minion is 1"),
        ({"tgt": ""}, "tgt is ''"),
    ],
)
def test_bad_report_arguments_are_named(kwargs, named):
    arguments = dict(tgt="*", tgt_type="glob", timeout=None, gather_job_timeout=None, strict=False, by_minion=False)
    arguments.update(kwargs)
    assert named in runner._report_arguments(**arguments)


def test_the_known_target_types_are_the_masters():
    message = runner._report_arguments("*", "bogus", None, None, False, False)
    for known in ("glob", "list", "grain", "compound", "nodegroup", "pillar"):
        assert known in message
    for known in ("glob", "list", "grain", "compound", "nodegroup", "pillar", "pcre", "ipcidr"):
        assert runner._report_arguments("*", known, None, None, False, False) is None


def test_the_report_takes_exactly_the_target_types_the_masters_matcher_dispatches(tmp_path, caplog):
    # The master's CkMinions.check_minions calls _check_<type>_minions; a type it has no
    # method for fails there (logged, and no minion is expected).
    opts = salt.config.master_config(None)
    opts.update(pki_dir=str(tmp_path / "pki"), cachedir=str(tmp_path / "cache"), minion_data_cache=False)
    (tmp_path / "pki" / "minions").mkdir(parents=True)
    matcher = salt.utils.minions.CkMinions(opts)
    taken = runner._report_arguments("*", "bogus", None, None, False, False).split("use one of ")[1].split(", ")

    def dispatched(tgt_type):
        caplog.clear()
        matcher.check_minions("nothing", tgt_type)
        failures = [str(record.exc_info[1]) for record in caplog.records if record.exc_info]
        return "'NoneType' object is not callable" not in failures

    assert [tgt_type for tgt_type in taken if not dispatched(tgt_type)] == []
    assert not dispatched("bogus")
    assert runner._report_arguments("*", "cache", None, None, False, False)  # a helper of the grain and pillar types


# --------------------------------------------------------------------------- rollout


@pytest.mark.parametrize(
    "rollout, named",
    [
        (None, "pillar assist_rollout is missing"),
        ("web-*", "pillar assist_rollout must be a mapping"),
        ({}, "pillar assist_rollout:target is missing"),
        ({"target": ""}, "pillar assist_rollout:target is missing"),
        ({"target": ["web-1"]}, "pillar assist_rollout:target must be a compound target string, not list"),
        ({"target": "*", "wave": 2}, "pillar assist_rollout: unknown key(s) wave"),
        ({"target": "*", "canary": "web-1"}, "pillar assist_rollout:canary must be a list of minion ids, not 'web-1'"),
        ({"target": "*", "canary": ["web-*"]}, "pillar assist_rollout:canary: 'web-*' is not a minion id"),
        ({"target": "*", "canary": ["G@role:web"]}, "pillar assist_rollout:canary: 'G@role:web' is not a minion id"),
        ({"target": "*", "canary": [3]}, "pillar assist_rollout:canary: 3 is not a minion id"),
        ({"target": "*", "canary": ["a", "a"]}, "pillar assist_rollout:canary lists a minion twice"),
        ({"target": "*", "batch": 0}, "pillar assist_rollout:batch is 0; use a number of minions n"),
        ({"target": "*", "batch": "0%"}, "pillar assist_rollout:batch is '0%'"),
        ({"target": "*", "batch": "101%"}, "pillar assist_rollout:batch is '101%'"),
        ({"target": "*", "batch": "%10"}, "pillar assist_rollout:batch is '%10'"),
        ({"target": "*", "batch": "two"}, "pillar assist_rollout:batch is 'two'"),
        ({"target": "*", "batch": True}, "pillar assist_rollout:batch is True"),
        ({"target": "*", "batch": 1.5}, "pillar assist_rollout:batch is 1.5"),
    ],
)
def test_a_bad_rollout_pillar_names_the_key(rollout, named):
    with pytest.raises(ValueError) as refused:
        runner.check_rollout(rollout)
    assert named in str(refused.value)


def test_a_good_rollout_pillar_is_taken_with_defaults():
    assert runner.check_rollout({"target": "web-*"}) == ("web-*", [], "25%")
    assert runner.check_rollout({"target": "*", "canary": ["web-1"], "batch": 2}) == ("*", ["web-1"], "2")
    assert runner.check_rollout({"target": "*", "canary": None, "batch": "100%"}) == ("*", [], "100%")


MATCHED = [f"m{n:02}" for n in range(1, 11)]


@pytest.mark.parametrize(
    "canary, batch, sizes",
    [
        ([], "3", [3, 3, 3, 1]),
        (["m01"], "3", [3, 3, 3]),
        (["m01", "m02"], "50%", [4, 4]),
        ([], "25%", [2, 2, 2, 2, 2]),  # 2.5 rounds down, as Salt's --batch
        ([], "5%", [1] * 10),  # at least one
        ([], "100%", [10]),
        ([], "20", [10]),
    ],
)
def test_waves_follow_the_batch_after_the_canary(canary, batch, sizes):
    waves = runner.waves("*", MATCHED, MATCHED, canary, batch)
    assert [len(wave) for wave in waves] == sizes
    assert sorted(sum(waves, []) + canary) == MATCHED


def test_only_a_canary_leaves_no_wave():
    assert runner.waves("web-1", ["web-1"], ["web-1"], ["web-1"], "1") == []


def test_a_target_that_matches_nothing_or_misses_the_canary_is_refused():
    with pytest.raises(ValueError, match="pillar assist_rollout:target 'nothing-\\*' matches no minion"):
        runner.waves("nothing-*", [], [], [], "1")
    with pytest.raises(ValueError, match="pillar assist_rollout:canary: db-1 not among the minions the target matches"):
        runner.waves("web-*", ["web-1", "web-2"], ["web-1", "web-2"], ["db-1"], "1")


def test_a_silent_minion_refuses_the_plan_and_says_how_to_leave_it_out():
    with pytest.raises(ValueError) as refused:
        runner.waves("web-* or db-1", ["db-1", "web-1", "web-2"], ["web-1"], [], "1")
    assert str(refused.value) == (
        "pillar assist_rollout:target 'web-* or db-1': db-1, web-2 did not answer; start them, "
        "or leave them out: target: '( web-* or db-1 ) and not L@db-1,web-2'"
    )


# --------------------------------------------------------------------------- enforce


def test_one_state_run_per_minion_per_interval(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(runner.time, "time", lambda: now[0])
    assert runner._claim("web-1", 30) is None
    now[0] += 10
    assert runner._claim("web-1", 30) == 10.0
    assert runner._claim("db-1", 30) is None  # each minion has its own turn
    now[0] += 20
    assert runner._claim("web-1", 30) is None


_released = None  # a barrier each forked worker inherits


def _hold(barrier):
    global _released  # pylint: disable=global-statement
    _released = barrier


def _claim_together(_):
    _released.wait()
    return [runner._claim(f"web-{number}", 30) for number in range(40)]


def test_of_a_minions_turn_claimed_at_once_by_the_reactors_workers_one_is_taken():
    # Processes forked with the loaded runner, released together: the lock lets one take
    # the turn; each other sees the time it wrote (never an empty or stale file).
    fork = multiprocessing.get_context("fork")
    barrier = fork.Barrier(8)
    with concurrent.futures.ProcessPoolExecutor(8, mp_context=fork, initializer=_hold, initargs=(barrier,)) as pool:
        workers = list(pool.map(_claim_together, range(8)))
    for answers in zip(*workers, strict=True):  # each minion's 8 answers
        assert answers.count(None) == 1
        assert all(0 <= age < 5 for age in answers if age is not None)


def test_a_turn_that_cannot_be_kept_publishes_nothing_and_says_why(tmp_path, monkeypatch):
    # The master's cache directory: a file stands where the folder of turns belongs.
    (tmp_path / "assist").write_text("in the way")
    monkeypatch.setattr(
        runner.salt.utils.minions, "CkMinions", lambda opts: type("K", (), {"check_minions": lambda *a: {"minions": ["web-1"]}})()
    )
    published = []
    monkeypatch.setattr(runner.salt.client, "get_local_client", lambda *a: published.append(a))
    ret = runner.enforce("web-1")
    assert ret["published"] is None and published == []
    assert ret["comment"].startswith(f"cannot keep the minion's turn in {tmp_path / 'assist'}")
    assert "nothing was published" in ret["comment"]
