"""The runner (_runners/assist.py), its pure parts: the report's counting and its
arguments, the rollout pillar's check and waves, the reactor's turn per minion."""

import concurrent.futures
import datetime
import multiprocessing
import pathlib
import time

import pytest
import salt.cache
import salt.config
import salt.utils.minions

from tests.conftest import REPO, load_source
from tests.unit.facts import DEAD, DEFAULT, FROZEN, RUNNING

runner = load_source("assist_runner", REPO / "_runners" / "assist.py")


@pytest.fixture
def configure_loader_modules(tmp_path):
    return {
        runner: {
            "__opts__": {
                "cachedir": str(tmp_path),
                "assist_enforce_interval": 30,
                # What the report and enforce hand Salt's LocalClient (answered by Client here).
                "conf_file": str(tmp_path / "master"),
                "timeout": 5,
                "gather_job_timeout": 5,
            },
            "__context__": {},
        },
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
def test_bad_report_arguments_are_named(configure_loader_modules, publish, kwargs, named):
    ret = runner.report(**{"tgt": "*", **kwargs})
    assert named in ret["error"] and ret["error"].endswith("; nothing was published")
    assert ret["retcode"] == 2 and publish == []


class Client:
    """Salt's LocalClient as report and enforce use it, publishing to no minion: the calls
    it was given, in ``published``."""

    def __init__(self, published):
        self.published = published

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def cmd_iter(self, tgt, fun, **kwargs):
        self.published.append((tgt, fun, kwargs["tgt_type"]))
        return iter([{"minions": []}])

    def cmd_async(self, tgt, fun, arg, tgt_type, kwarg=None):
        self.published.append((tgt, fun, tgt_type))
        return f"2026{len(self.published):016d}"


@pytest.fixture
def publish(monkeypatch):
    """What report and enforce publish (nothing reaches a minion)."""
    published = []
    monkeypatch.setattr(runner.salt.client, "get_local_client", lambda *a, **k: Client(published))
    return published


def usage_error(**arguments):
    return runner.report(**{"tgt": "*", **arguments}).get("error")


def test_the_known_target_types_are_the_masters(configure_loader_modules, publish):
    message = usage_error(tgt_type="bogus")
    for known in ("glob", "list", "grain", "compound", "nodegroup", "pillar"):
        assert known in message
    for known in ("glob", "list", "grain", "compound", "nodegroup", "pillar", "pcre", "ipcidr"):
        assert usage_error(tgt_type=known) is None
    assert [tgt_type for _, _, tgt_type in publish] == [
        "glob",
        "list",
        "grain",
        "compound",
        "nodegroup",
        "pillar",
        "pcre",
        "ipcidr",
    ]


def test_the_report_takes_exactly_the_target_types_the_masters_matcher_dispatches(tmp_path, caplog):
    # The master's CkMinions.check_minions calls _check_<type>_minions; a type it has no
    # method for fails there (logged, and no minion is expected).
    opts = salt.config.master_config(None)
    opts.update(pki_dir=str(tmp_path / "pki"), cachedir=str(tmp_path / "cache"), minion_data_cache=False)
    (tmp_path / "pki" / "minions").mkdir(parents=True)
    matcher = salt.utils.minions.CkMinions(opts)
    taken = usage_error(tgt_type="bogus").split("use one of ")[1].split("; nothing")[0].split(", ")

    def dispatched(tgt_type):
        caplog.clear()
        matcher.check_minions("nothing", tgt_type)
        failures = [str(record.exc_info[1]) for record in caplog.records if record.exc_info]
        return "'NoneType' object is not callable" not in failures

    assert [tgt_type for tgt_type in taken if not dispatched(tgt_type)] == []
    assert not dispatched("bogus")
    assert usage_error(tgt_type="cache")  # a helper of the grain and pillar types


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


@pytest.fixture
def accepted(monkeypatch):
    """Every minion id is an accepted key (the master's CkMinions, answered here)."""
    monkeypatch.setattr(
        runner.salt.utils.minions,
        "CkMinions",
        lambda opts: type("K", (), {"check_minions": lambda self, tgt, _: {"minions": [tgt]}})(),
    )


def test_one_state_run_per_minion_per_interval(configure_loader_modules, accepted, publish, monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(runner.time, "time", lambda: now[0])
    assert runner.enforce("web-1")["published"]
    now[0] += 10
    assert runner.enforce("web-1") == {
        "minion": "web-1",
        "published": None,
        "comment": "a state run was started 10.0 s ago; at most one every 30 s",
    }
    assert runner.enforce("db-1")["published"]  # each minion has its own turn
    now[0] += 20
    assert runner.enforce("web-1")["published"]
    assert publish == [(minion, "state.apply", "list") for minion in ("web-1", "db-1", "web-1")]


_released = None  # a barrier each forked worker inherits


def _hold(barrier):
    global _released  # pylint: disable=global-statement
    _released = barrier


def _enforce_together(_):
    published = []
    for number in range(200):
        _released.wait()  # all eight at this minion's turn at once
        published.append(runner.enforce(f"web-{number}")["published"] is not None)
    return published


def test_of_a_minions_turn_claimed_at_once_by_the_reactors_workers_one_is_taken(configure_loader_modules, accepted, publish):
    # Processes forked with the loaded runner, released together: the lock lets one take
    # the turn and publish; each other sees the time it wrote (never an empty or stale file).
    fork = multiprocessing.get_context("fork")
    barrier = fork.Barrier(8)
    with concurrent.futures.ProcessPoolExecutor(8, mp_context=fork, initializer=_hold, initargs=(barrier,)) as pool:
        workers = list(pool.map(_enforce_together, range(8)))
    for published in zip(*workers, strict=True):  # each minion's 8 answers
        assert published.count(True) == 1


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


# --------------------------------------------------------------------------- report from the cache

NOW = 1_800_000_000.0


def stamped(seconds_ago, audit_=None, period=300, error=None):
    """An answer as the mine function returns it, taken ``seconds_ago`` before NOW."""
    taken = datetime.datetime.fromtimestamp(NOW - seconds_ago, datetime.timezone.utc).isoformat()
    answer = {"taken": taken, "period": period}
    if error is None:
        answer["audit"] = audit_ or audit(RUNNING)["ret"]
    else:
        answer["error"] = error
    return answer


def test_cached_answers_are_judged_as_live_ones_with_their_ages():
    drifted = audit(RUNNING, ["client is running, policy says dead"], FROZEN)["ret"]
    entries = {
        "web-1": stamped(30),
        "db-1": stamped(700, drifted),
        "bad-1": stamped(5, error='pillar assist:client is "stopped"; use running or dead'),
        "ahead-1": stamped(-20),  # the minion's clock runs ahead of the master's
        "acl-1": {"__saltmine_acl__": 1, "__data__": stamped(10)},  # mine.send ... allow_tgt=
    }
    answers, ages, periods = runner.cached_answers(entries, NOW)
    assert ages == {"web-1": 30, "db-1": 700, "bad-1": 5, "ahead-1": 0, "acl-1": 10}
    assert periods == dict.fromkeys(entries, 300)
    report = runner.summarise(["web-1", "db-1", "bad-1", "ahead-1", "acl-1", "new-1"], answers, silent="never")
    assert report["summary"] == {"targeted": 6, "answered": 5, "compliant": 3, "drifted": 1, "errors": 1, "never": 1}
    assert report["drifted"] == {"db-1": ["client is running, policy says dead"]}
    assert report["errors"] == {"bad-1": 'pillar assist:client is "stopped"; use running or dead'}
    assert report["never"] == ["new-1"]
    # The same answers published live count the same.
    live = runner.summarise(
        ["web-1", "db-1", "bad-1", "ahead-1", "acl-1"],
        {**{name: audit(RUNNING) for name in ("web-1", "ahead-1", "acl-1")}, "db-1": {"ret": drifted}, "bad-1": answers["bad-1"]},
    )
    assert (live["counts"], live["drifted"], live["errors"]) == (report["counts"], report["drifted"], report["errors"])


@pytest.mark.parametrize(
    "entry",
    [
        "a string",
        {"result": True},  # an audit without its time
        {"taken": "yesterday", "audit": {}},
        {"taken": "2026-12-07T10:00:00", "audit": {}},  # no zone: whose clock?
        {"taken": 1_700_000_000, "audit": {}},
    ],
)
def test_a_cache_entry_that_is_no_audit_is_an_error_naming_the_minion(entry):
    answers, ages, _ = runner.cached_answers({"odd-1": entry}, NOW)
    report = runner.summarise(["odd-1"], answers, silent="never")
    assert report["summary"]["errors"] == 1 and ages == {}
    assert report["errors"]["odd-1"].startswith("the master's cache holds no audit from assist.mine_audit for it: ")


def test_an_answer_without_a_period_gets_the_shipped_one():
    entry = stamped(1)
    del entry["period"]
    assert runner.cached_answers({"a": entry, "b": stamped(1, period="often")}, NOW)[2] == {"a": 300, "b": 300}


@pytest.mark.parametrize(
    "version, place",
    [((3006, 29), ("minions/web-1", "mine")), ((3007, 16), ("minions/web-1", "mine")), ((3008, 4), ("mine", "web-1"))],
)
def test_the_mine_is_read_where_each_release_keeps_it(tmp_path, version, place):
    cache = salt.cache.factory(salt.config.master_config(None) | {"cachedir": str(tmp_path)})
    cache.store(*place, {"assist.mine_audit": stamped(3), "network.ip_addrs": ["127.0.0.1"]})
    cache.store(*runner.mine_place("other-1", version), {"network.ip_addrs": ["127.0.0.2"]})
    assert runner.mine_place("web-1", version) == place
    assert runner.read_mine(cache, ["web-1", "other-1", "gone-1"], version) == {"web-1": stamped(3)}


@pytest.fixture
def master_opts(tmp_path):
    """A master's options over a real pki directory and localfs cache."""
    opts = salt.config.master_config(None)
    opts.update(pki_dir=str(tmp_path / "pki"), cachedir=str(tmp_path / "cache"), cache="localfs")
    (tmp_path / "pki" / "minions").mkdir(parents=True)
    return opts


def accept(opts, *minions):
    for minion in minions:
        pathlib.Path(opts["pki_dir"], "minions", minion).write_text("a key\n")


def test_the_cached_report_lists_stale_and_never_and_strict_fails_on_them(master_opts, monkeypatch):
    accept(master_opts, "web-1", "old-1", "new-1")
    cache = salt.cache.factory(master_opts)
    now = time.time()
    for minion, ago in (("web-1", 10), ("old-1", 900)):
        taken = datetime.datetime.fromtimestamp(now - ago, datetime.timezone.utc).isoformat()
        cache.store(
            *runner.mine_place(minion), {"assist.mine_audit": {"taken": taken, "period": 300, "audit": audit(RUNNING)["ret"]}}
        )
    monkeypatch.setattr(runner, "__opts__", master_opts, raising=False)
    found = runner.report(source="cache")
    assert found["summary"] == {"targeted": 3, "answered": 2, "compliant": 2, "drifted": 0, "errors": 0, "never": 1, "stale": 1}
    assert (found["never"], found["stale"]) == (["new-1"], ["old-1"])
    assert 10 <= found["ages"]["web-1"] <= 12 and 900 <= found["ages"]["old-1"] <= 902
    assert "unreachable" not in found and "retcode" not in found
    assert runner.report(source="cache", strict=True)["retcode"] == 1
    assert runner.report(tgt="web-1", source="cache", strict=True)["retcode"] == 0
    assert runner.report(tgt="old-1", source="cache", max_age=1000)["stale"] == []
    table = runner.report(source="cache", by_minion=True)["minions"]
    assert [(row["minion"], row["status"], row["age"] != "") for row in table] == [
        ("new-1", "never", False),
        ("old-1", "compliant", True),
        ("web-1", "compliant", True),
    ]
    assert len({tuple(row) for row in table}) == 1


def test_a_cache_backend_that_cannot_be_reached_is_named_with_its_option(master_opts, monkeypatch):
    accept(master_opts, "web-1")
    master_opts.update({"cache": "redis", "cache.redis.unix_socket_path": str(pathlib.Path(master_opts["pki_dir"], "no.sock"))})
    monkeypatch.setattr(runner, "__opts__", master_opts, raising=False)
    found = runner.report(source="cache")
    assert found["retcode"] == 1 and runner.__context__["retcode"] == 1
    assert found["error"].startswith(
        "assist.report: cannot read the master's cache through its backend 'redis' (master option cache): "
    )


@pytest.mark.parametrize(
    "kwargs, named",
    [
        ({"source": "mine"}, "source is 'mine'; use live (publish assist.audit) or cache"),
        ({"max_age": 60}, "max_age is for source=cache"),
        ({"source": "cache", "max_age": "10m"}, "max_age is '10m'; give a number of seconds above 0"),
        ({"source": "cache", "max_age": 0}, "max_age is 0"),
        ({"source": "cache", "max_age": True}, "max_age is True"),
        ({"source": "cache", "timeout": 5}, "timeout and gather_job_timeout are for the live report"),
    ],
)
def test_bad_cached_report_arguments_are_named(kwargs, named):
    found = runner.report(**kwargs)
    assert found == {"error": found["error"], "retcode": 2} and named in found["error"]
