"""`hashbench merge`: stores filled on two "machines" (two folders) merged into one give the
same tables, statistics and report cells as one store that ran everything; conflicts (the
same run id with other codes, as another machine gives for deep methods) are refused with
one line naming both sources and the target untouched, until --keep says which to keep;
merging twice changes nothing; export folders (with and without codes) merge too; bad
sources are refused; a crash mid-merge leaves the target as it was."""

from __future__ import annotations

import copy
import os
import re
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from hashbench.cli import main
from hashbench.errors import StoreError
from hashbench.provenance import host_identity
from hashbench.store import SCHEMA_VERSION, ResultStore, merge_write
from hashbench.store import merge as merge_module
from hashbench.store.merge_sources import compare_machines

SMALL = ("--dataset", "synth-mirflickr", "--scale", "0.05", "--budget", "quick")
OTHER_HOST = {"hostname": "gpu-box", "machine_id": "0123456789abcdef"}


def _run(cache_dir: Path, *args: str) -> None:
    result = CliRunner().invoke(main, list(args), env={"HASHBENCH_CACHE": str(cache_dir)})
    assert result.exit_code == 0, result.output


def _one_line_error(result, *fragments: str) -> None:
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    for fragment in fragments:
        assert fragment in result.output, result.output


def _copy_store(store: Path, folder: Path) -> Path:
    """A copy of a store with its codes folder (another "machine"'s store, as carried over)."""
    shutil.copytree(store.parent, folder)
    return folder / store.name


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def _other_machine(store: Path, run_id: str, dest: Path) -> None:
    """Store at `dest` the run `run_id` of `store` as another machine would give it: other
    codes (one query code flipped), a slightly other score, that machine's provenance."""
    with ResultStore(store, readonly=True) as source:
        record = source.get(run_id)
        arrays = dict(source.load_arrays(record))
    key = sorted(k for k in arrays if k.startswith("codes.query."))[0]
    arrays[key] = arrays[key].copy()
    arrays[key][0] ^= 0xFF
    record = copy.deepcopy(record)
    record.provenance["host"] = dict(OTHER_HOST)
    for values in record.task_metrics().values():
        values["map@50"] = values["map@50"] + 0.001
    with ResultStore(dest) as other:
        other.save(record, arrays)


def _run_ids(store: Path) -> dict[str, tuple]:
    with ResultStore(store, readonly=True) as results:
        return {r.run_id: (r.method, r.bits, r.seed) for r in results.records()}


# --- the two machines of the Done-when check --------------------------------------------------


@pytest.fixture(scope="module")
def machines(tmp_path_factory, cache_dir) -> dict[str, Path]:
    """Machine a ran lsh (seeds 0-2) and cca-itq seed 0; machine b cca-itq seeds 0-2 (seed 0
    on both); one store ran everything."""
    root = tmp_path_factory.mktemp("machines")
    grid = ("--bits", "16,32", *SMALL)
    stores = {name: root / name / "hashbench.sqlite" for name in ("a", "b", "all")}
    _run(
        cache_dir, "run", "--methods", "lsh", "--seeds", "0,1,2", *grid, "--store", str(stores["a"])
    )
    _run(
        cache_dir, "run", "--methods", "cca-itq", "--seeds", "0", *grid, "--store", str(stores["a"])
    )
    _run(
        cache_dir,
        "run",
        "--methods",
        "cca-itq",
        "--seeds",
        "0,1,2",
        *grid,
        "--store",
        str(stores["b"]),
    )
    _run(cache_dir, "run", "--methods", "lsh,cca-itq", "--seeds", "0,1,2", *grid,
         "--store", str(stores["all"]))  # fmt: skip
    return stores


def _comparison_rows(html: str) -> list[str]:
    rows = []
    for table in ("cmp-i2t", "cmp-t2i"):
        body = html.split(f'id="{table}"', 1)[1].split("<tbody>", 1)[1].split("</tbody>", 1)[0]
        rows += re.findall(r"<tr\b.*?</tr>", body, flags=re.S)
    return rows


def _same_outputs(cli, merged: Path, reference: Path, tmp_path: Path) -> None:
    """Table text (--ci --significance), its CSV and the report's comparison tables agree."""
    for fmt in ((), ("--csv",)):
        ours = cli("table", "--ci", "--significance", *fmt, "--store", str(merged))
        theirs = cli("table", "--ci", "--significance", *fmt, "--store", str(reference))
        assert ours.exit_code == 0 and theirs.exit_code == 0, ours.output + theirs.output
        assert ours.output == theirs.output
    pages = []
    for name, store in (("merged", merged), ("reference", reference)):
        out = tmp_path / f"site-{name}"
        result = cli("report", "--ci", "--significance", "--store", str(store), "--out", str(out))
        assert result.exit_code == 0, result.output
        pages.append(_comparison_rows((out / "index.html").read_text(encoding="utf-8")))
    assert pages[0] == pages[1] and len(pages[0]) == 4  # 2 methods x 2 tasks


@pytest.mark.slow
def test_merged_machines_give_the_cells_of_one_store_that_ran_everything(cli, machines, tmp_path):
    target = tmp_path / "merged" / "hashbench.sqlite"
    result = cli("merge", str(machines["a"]), str(machines["b"]), "--store", str(target))
    assert result.exit_code == 0, result.output
    assert "12 added" in result.output and "2 already there" in result.output  # cca-itq seed 0
    assert _run_ids(target) == _run_ids(machines["all"])
    _same_outputs(cli, target, machines["all"], tmp_path)
    status = cli("status", "--store", str(target)).output
    assert "merged: 12 run(s) from 2 source(s)" in status and "orphan" not in status
    # merged twice: nothing changes
    before = _snapshot(target.parent)
    again = cli("merge", str(machines["a"]), str(machines["b"]), "--store", str(target))
    assert again.exit_code == 0 and "0 added" in again.output and "14 already there" in again.output
    assert _snapshot(target.parent) == before


@pytest.mark.slow
def test_export_folders_merge_like_stores(cli, machines, tmp_path):
    with_codes, scores_only = tmp_path / "b-codes", tmp_path / "b-scores"
    assert (
        cli("export", str(with_codes), "--with-codes", "--store", str(machines["b"])).exit_code == 0
    )
    assert cli("export", str(scores_only), "--store", str(machines["b"])).exit_code == 0
    target = tmp_path / "merged" / "hashbench.sqlite"
    assert cli("merge", str(machines["a"]), str(with_codes), "--store", str(target)).exit_code == 0
    _same_outputs(cli, target, machines["all"], tmp_path)
    # without codes: the scores are there, the intervals are not, and the table says why
    bare = tmp_path / "bare" / "hashbench.sqlite"
    result = cli("merge", str(machines["a"]), str(scores_only), "--store", str(bare))
    assert result.exit_code == 0 and "came without codes" in result.output
    plain = [cli("table", "--csv", "--store", str(s)).output for s in (bare, machines["all"])]
    assert plain[0] == plain[1]  # means, std over seeds, rank marks
    table = cli("table", "--ci", "--store", str(bare))
    assert "merged without their codes" in table.output and "±n/a" in table.output
    seeds = [cli("table", "--significance", "seeds", "--store", str(s)).output
             for s in (bare, machines["all"])]  # fmt: skip
    assert seeds[0] == seeds[1]  # the seed-level test needs only the scores
    listing = cli("merge", "--list", "--store", str(bare)).output
    assert "4 run(s) merged without codes" in listing
    # the codes arrive later: the runs get them, and the intervals come back
    filled = cli("merge", str(with_codes), "--store", str(bare))
    assert filled.exit_code == 0 and "4 replaced" in filled.output
    _same_outputs(cli, bare, machines["all"], tmp_path / "filled")


# --- small stores for the rules ---------------------------------------------------------------


@pytest.fixture(scope="module")
def pair(tmp_path_factory, cache_dir) -> dict[str, Path]:
    """lsh 16 bits: seeds 0, 1 on a; seeds 1, 2 on b (seed 1 on both)."""
    root = tmp_path_factory.mktemp("pair")
    stores = {name: root / name / "hashbench.sqlite" for name in ("a", "b")}
    for name, seeds in (("a", "0,1"), ("b", "1,2")):
        _run(cache_dir, "run", "--methods", "lsh", "--bits", "16", "--seeds", seeds, *SMALL,
             "--store", str(stores[name]))  # fmt: skip
    return stores


@pytest.fixture
def stores(pair, tmp_path) -> dict[str, Path]:
    """Fresh copies of the pair (tests change them), and the overlapping run's id."""
    out = {name: _copy_store(path, tmp_path / name) for name, path in pair.items()}
    shared = set(_run_ids(out["a"])) & set(_run_ids(out["b"]))
    (out["shared"],) = (Path(run_id) for run_id in shared)
    return out


def test_a_conflict_is_refused_in_one_line_and_the_target_is_unchanged(cli, stores, tmp_path):
    run_id = str(stores["shared"])
    other = tmp_path / "gpu-box" / "hashbench.sqlite"
    _other_machine(stores["a"], run_id, other)
    before = _snapshot(stores["a"].parent)
    result = cli("merge", str(stores["b"]), str(other), "--store", str(stores["a"]))
    _one_line_error(
        result, f"run {run_id} (lsh synth-mirflickr@0.05 16 bits seed 1", "codes differ between",
        str(stores["a"]), str(other), "(host gpu-box)", "different machines",
        "--keep target|source|both",
    )  # fmt: skip
    assert len(result.output.strip().splitlines()) == 1
    assert _snapshot(stores["a"].parent) == before  # byte for byte: not even b's new run
    dry = cli("merge", str(stores["b"]), "--store", str(stores["a"]), "--dry-run")
    assert dry.exit_code == 0 and "would merge" in dry.output and "1 added" in dry.output
    assert _snapshot(stores["a"].parent) == before


def test_same_machine_conflicts_say_so():
    ours = {"host": {"hostname": "vm", "machine_id": "aa"}, "versions": {"torch": "2.1"}}
    theirs = copy.deepcopy(ours)
    assert compare_machines(ours, theirs).text() == "same machine"
    theirs["host"]["machine_id"] = "bb"
    assert compare_machines(ours, theirs).text() == "different machines"
    old = {"cpu": "Xeon", "platform": "Linux-6", "cpu_count": 2}  # before host ids
    assert compare_machines(old, dict(old)).text().startswith("probably the same machine")
    assert compare_machines(old, {**old, "cpu_count": 16}).text().startswith("probably different")
    assert compare_machines({}, old).same is None


provenances = st.fixed_dictionaries(
    {"cpu": st.sampled_from(["Xeon", "EPYC"]), "cpu_count": st.integers(1, 3)},
    optional={"host": st.fixed_dictionaries({"machine_id": st.sampled_from(["a", "b", None])})},
)


@given(provenances, provenances)
def test_same_machine_is_symmetric_and_reflexive(a, b):
    assert compare_machines(a, b) == compare_machines(b, a)
    assert compare_machines(a, a).same is True


def test_keep_target_source_and_both(cli, stores, tmp_path):
    run_id = str(stores["shared"])
    other = tmp_path / "gpu-box" / "hashbench.sqlite"
    _other_machine(stores["a"], run_id, other)
    target = stores["a"]
    table = cli("table", "--csv", "--store", str(target)).output

    kept = cli("merge", str(other), "--store", str(target), "--keep", "target")
    assert kept.exit_code == 0 and "1 conflicts kept" in kept.output
    assert cli("table", "--csv", "--store", str(target)).output == table

    both = cli("merge", str(other), "--store", str(target), "--keep", "both")
    assert both.exit_code == 0 and "1 kept as replicates" in both.output
    assert cli("table", "--csv", "--store", str(target)).output == table  # not another seed
    conn = sqlite3.connect(target)
    (path,) = conn.execute("SELECT codes_path FROM replicates").fetchone()
    conn.close()
    assert Path(path).parent.name.startswith(f"{run_id}.")  # never <run id>/: a rerun's place
    listing = cli("merge", "--list", "--store", str(target)).output
    assert f"run {run_id}" in listing and "(host gpu-box)" in listing
    assert "different machines" in listing and "(+0.0010)" in listing
    status = cli("status", "--store", str(target)).output
    assert "1 replicate(s)" in status and "orphan" not in status  # its codes are referenced
    again = cli("merge", str(other), "--store", str(target))  # already a replicate: no conflict
    assert again.exit_code == 0 and "1 already there" in again.output

    taken = cli("merge", str(other), "--store", str(target), "--keep", "source")
    assert taken.exit_code == 0 and "1 already there" in taken.output  # a replicate already
    fresh = _copy_store(stores["b"], tmp_path / "fresh")
    source = cli("merge", str(other), "--store", str(fresh), "--keep", "source")
    assert source.exit_code == 0 and "1 replaced" in source.output
    with ResultStore(fresh, readonly=True) as results:
        record = results.get(run_id)
        assert record.provenance["host"] == OTHER_HOST
        results.load_arrays(record)  # the source's codes came with it, checked
    status = cli("status", "--store", str(fresh)).output
    assert "orphan" not in status and "missing" not in status  # the old codes were removed


def test_conflicts_between_two_sources_are_refused_too(cli, stores, tmp_path):
    run_id = str(stores["shared"])
    other = tmp_path / "gpu-box" / "hashbench.sqlite"
    _other_machine(stores["a"], run_id, other)
    target = tmp_path / "new" / "hashbench.sqlite"
    result = cli("merge", str(stores["a"]), str(other), "--store", str(target))
    _one_line_error(result, f"between {stores['a']}", str(other))
    assert not target.exists()


def test_failed_runs_merge_only_where_nothing_is_done(cli, stores, tmp_path):
    with ResultStore(stores["a"], readonly=True) as results:
        done = results.records()[0]
    failing = tmp_path / "failing" / "hashbench.sqlite"
    with ResultStore(failing) as store:
        for run_id in (done.run_id, "f" * 16):
            record = copy.deepcopy(done)
            record.run_id = run_id
            store.save_failure(record, "Traceback: boom")
    result = cli("merge", str(failing), "--store", str(stores["a"]))
    assert result.exit_code == 0 and "1 added" in result.output
    assert "1 failed runs not taken" in result.output
    with ResultStore(stores["a"], readonly=True) as results:
        assert results.statuses([done.run_id, "f" * 16]) == {
            done.run_id: "done",
            "f" * 16: "failed",
        }
    # a done run replaces a failed one
    done_too = tmp_path / "done" / "hashbench.sqlite"
    with ResultStore(done_too) as store:
        record = copy.deepcopy(done)
        record.run_id = "f" * 16
        with ResultStore(stores["a"], readonly=True) as results:
            store.save(record, results.load_arrays(done))
    result = cli("merge", str(done_too), "--store", str(stores["a"]))
    assert result.exit_code == 0 and "1 replaced" in result.output
    with ResultStore(stores["a"], readonly=True) as results:
        assert results.statuses(["f" * 16]) == {"f" * 16: "done"}


def test_bad_sources_are_refused_with_one_line(cli, stores, tmp_path):
    target = stores["b"]
    before = _snapshot(target.parent)
    _one_line_error(cli("merge", str(tmp_path / "nope.sqlite"), "--store", str(target)),
                    "nope.sqlite does not exist")  # fmt: skip
    foreign = tmp_path / "foreign.sqlite"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE notes (x TEXT)")
    conn.commit()
    conn.close()
    _one_line_error(cli("merge", str(foreign), "--store", str(target)), "not a hashbench")
    _one_line_error(cli("merge", str(tmp_path), "--store", str(target)), "not a hashbench export")
    _one_line_error(cli("merge", str(target), "--store", str(target)), "is the target store")
    _one_line_error(cli("merge", "--store", str(target)), "name at least one SOURCE")
    # a damaged codes file in the source: refused before anything is written
    with ResultStore(stores["a"], readonly=True) as results:
        record = [r for r in results.records() if r.run_id != str(stores["shared"])][0]
    path = stores["a"].parent / record.codes_path
    path.write_bytes(path.read_bytes()[:200])
    _one_line_error(
        cli("merge", str(stores["a"]), "--store", str(target)),
        f"cannot merge from {stores['a']}", record.run_id,
    )  # fmt: skip
    path.unlink()
    _one_line_error(cli("merge", str(stores["a"]), "--store", str(target)), "are missing")
    assert _snapshot(target.parent) == before


def test_a_crash_while_placing_codes_leaves_the_target_as_it_was(cli, stores, monkeypatch):
    target = stores["b"]
    before = _snapshot(target.parent)
    with ResultStore(target, readonly=True) as results:
        rows_before = len(results.records())
    real, calls = os.replace, []

    def failing(src, dst):
        calls.append(dst)
        if len(calls) == 1:  # the merge's one run: its codes land, then the commit fails
            real(src, dst)
            raise OSError(28, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(merge_write.os, "replace", failing)
    with pytest.raises(StoreError, match="nothing was merged"):
        merge_module.merge([stores["a"]], target)
    monkeypatch.undo()
    assert calls
    with ResultStore(target, readonly=True) as results:
        assert len(results.records()) == rows_before
        assert results.orphans() == []  # the placed copy was removed again
    assert {k: v for k, v in _snapshot(target.parent).items() if "sqlite" not in k} == {
        k: v for k, v in before.items() if "sqlite" not in k
    }


def test_a_target_changed_meanwhile_is_not_merged_into(stores):
    opened: list[ResultStore] = []
    plan = merge_module.plan_merge([stores["a"]], stores["b"], None, opened)
    with ResultStore(stores["b"]) as target:  # another process reruns the shared run
        record = target.get(str(stores["shared"]))
        record.timings["total_s"] = record.timings.get("total_s", 0.0) + 1.0
        target.save(record, target.load_arrays(record))
    with pytest.raises(StoreError, match="changed while merging"):
        merge_write.apply_merge(plan)
    for store in opened:
        store.close()
    assert len(_run_ids(stores["b"])) == 2


def test_runs_merged_without_codes_count_as_done(cli, stores, tmp_path, cache_dir):
    scores = tmp_path / "scores"
    assert cli("export", str(scores), "--store", str(stores["b"])).exit_code == 0
    target = tmp_path / "t" / "hashbench.sqlite"
    assert cli("merge", str(scores), "--store", str(target)).exit_code == 0
    status = cli("status", "--store", str(target)).output
    assert "2 without codes" in status and "missing" not in status
    run = cli("run", "--methods", "lsh", "--bits", "16", "--seeds", "1,2", *SMALL,
              "--store", str(target))  # fmt: skip
    assert run.exit_code == 0 and "0 run(s) executed, 2 skipped" in run.output
    with ResultStore(target, readonly=True) as results:
        record = results.records()[0]
        with pytest.raises(StoreError, match="merged without its codes"):
            results.load_arrays(record)
    _one_line_error(cli("eval", "--run", record.run_id, "--store", str(target)),
                    "merged without its codes")  # fmt: skip


def test_an_older_store_is_upgraded_in_place_and_read_as_it_is(cli, stores, tmp_path):
    target = stores["b"]
    conn = sqlite3.connect(target)  # as schema 4 left it
    conn.execute("DROP TABLE merged")
    conn.execute("DROP TABLE replicates")
    conn.execute("PRAGMA user_version=4")
    conn.commit()
    conn.close()
    listing = cli("merge", "--list", "--store", str(target))
    assert listing.exit_code == 0 and "no runs of" in listing.output
    result = cli("merge", str(stores["a"]), "--store", str(target))
    assert result.exit_code == 0 and "1 added" in result.output
    conn = sqlite3.connect(target)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 5
    assert conn.execute("SELECT COUNT(*) FROM merged").fetchone()[0] == 1
    conn.close()
    assert "merged: 1 run(s) from 1 source(s)" in cli("status", "--store", str(target)).output


def test_new_runs_record_their_host(stores):
    identity = host_identity()
    assert identity["hostname"]
    assert identity["machine_id"] is None or re.fullmatch(r"[0-9a-f]{16}", identity["machine_id"])
    with ResultStore(stores["a"], readonly=True) as results:
        assert all(r.provenance["host"] == identity for r in results.records())


def test_copies_of_codes_are_the_checked_bytes(stores, tmp_path):
    target = tmp_path / "t" / "hashbench.sqlite"
    merge_module.merge([stores["a"]], target)
    with ResultStore(stores["a"], readonly=True) as a, ResultStore(target, readonly=True) as t:
        for ours, theirs in zip(a.records(), t.records(), strict=True):
            assert ours.codes_digest == theirs.codes_digest
            assert (a.path.parent / ours.codes_path).read_bytes() == (
                t.path.parent / theirs.codes_path
            ).read_bytes()
            np.testing.assert_equal(dict(a.load_arrays(ours)), dict(t.load_arrays(theirs)))
