"""The longest chain of sequential provisioning waits, on hand-made intervals, and the optional parts' counted apart."""

from datetime import UTC, datetime, timedelta

import nbformat

from maze.provisioning import Wait, chain_line, longest_chain, split_at
from maze.tasks import OPTIONAL_TAG, optional_start

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def wait(name: str, start_minute: float, end_minute: float) -> Wait:
    return Wait(name, T0 + timedelta(minutes=start_minute), T0 + timedelta(minutes=end_minute))


def names(chain: list[Wait]) -> list[str]:
    return [w.name for w in chain]


def test_no_waits_no_chain() -> None:
    assert longest_chain([]) == []


def test_jobs_started_together_are_one_wait() -> None:
    together = [wait(f"batch-{i}", 0, 5 + i) for i in range(6)]
    assert len(longest_chain(together)) == 1


def test_jobs_one_after_another_are_each_a_wait() -> None:
    in_turn = [wait(f"batch-{i}", 6 * i, 6 * i + 5) for i in range(6)]
    assert names(longest_chain(in_turn)) == [f"batch-{i}" for i in range(6)]


def test_a_wait_starting_when_the_previous_ends_follows_it() -> None:
    assert len(longest_chain([wait("train", 0, 4), wait("deploy", 4, 9)])) == 2


def test_greedy_by_end_beats_greedy_by_start() -> None:
    # A long wait that starts first would block two short ones that run one after another.
    long_first = wait("long", 0, 10)
    short = [wait("short-1", 1, 3), wait("short-2", 4, 6), wait("short-3", 7, 9)]
    assert names(longest_chain([long_first, *short])) == ["short-1", "short-2", "short-3"]


def test_overlapping_pairs_in_sequence() -> None:
    # Two deployments at once, then two transform jobs at once: two waits, not four.
    waits = [wait("deploy-a", 0, 5), wait("deploy-b", 0.5, 6), wait("batch-a", 7, 12), wait("batch-b", 7.2, 11)]
    chain = longest_chain(waits)
    assert len(chain) == 2
    assert chain[0].end <= chain[1].start


def test_input_order_does_not_matter() -> None:
    waits = [wait("c", 10, 12), wait("a", 0, 3), wait("b", 2, 8), wait("d", 3, 9)]
    assert names(longest_chain(waits)) == names(longest_chain(list(reversed(waits)))) == ["a", "d", "c"]


def test_the_chain_reads_without_team_and_timestamp() -> None:
    chain = [
        wait("maze-red-batch-1file-2026-11-27-13-29-23-527", 0, 0.1),
        wait("maze-red-serverless-2026-11-27-13-30-01-002", 1, 2),
    ]
    assert chain_line(chain, "red") == "batch-1file 6s -> serverless 60s"


def test_the_waits_of_the_optional_parts_are_counted_apart() -> None:
    task = [wait("train", 0, 5), wait("realtime", 6, 10)]
    optional = [wait("sweep0", 11, 15), wait("sweep1", 11, 16), wait("filter", 17, 20)]
    own, extra = split_at(task + optional, T0 + timedelta(minutes=10.5))
    assert (names(own), names(extra)) == (["train", "realtime"], ["sweep0", "sweep1", "filter"])
    assert (len(longest_chain(own)), len(longest_chain(extra))) == (2, 2)
    assert split_at(task, None) == (task, [])


def test_the_optional_part_starts_when_its_first_code_cell_ran() -> None:
    def cell(tags: list[str], started: str | None) -> nbformat.NotebookNode:
        code = nbformat.v4.new_code_cell("pass", metadata={"tags": tags})
        if started:
            code.metadata["execution"] = {"iopub.execute_input": started}
        return code

    nb = nbformat.v4.new_notebook()
    heading = nbformat.v4.new_markdown_cell("## Optional", metadata={"tags": [OPTIONAL_TAG]})
    nb.cells = [cell([], "2026-12-03T07:00:00.000001Z"), heading, cell([OPTIONAL_TAG], "2026-12-03T07:05:00.5Z")]
    assert optional_start(nb) == datetime(2026, 12, 3, 7, 5, 0, 500000, tzinfo=UTC)
    nb.cells[2].metadata.pop("execution")  # the cell never ran: the task stopped before it
    assert optional_start(nb) is None
    nb.cells = nb.cells[:1]
    assert optional_start(nb) is None
