"""The longest chain of sequential provisioning waits, on hand-made intervals."""

from datetime import UTC, datetime, timedelta

from maze.provisioning import Wait, chain_line, longest_chain

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
