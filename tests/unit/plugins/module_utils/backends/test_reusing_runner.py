"""ReusingRunner: a repeated listing is answered from the first, until anything else runs."""

from ansible_collections.biostar.hardening.plugins.module_utils.backends.base import (
    LISTINGS,
    CommandResult,
    ReusingRunner,
    Runner,
)

LIST = ("nft", "-j", "list", "ruleset")
SAVE4 = ("iptables-save", "-t", "filter")


class Counting(Runner):
    """Answers each command with a fresh output: the number of commands run so far."""

    def __init__(self, failing=()):
        self.calls = []
        self.failing = set(failing)

    def run(self, args, data=None):
        self.calls.append((tuple(args), data))
        rc = 1 if tuple(args) in self.failing else 0
        return CommandResult(rc, "answer %d" % len(self.calls), "")

    def which(self, name):
        return "/usr/sbin/" + name


def test_the_listings_are_the_ones_detection_and_read_share():
    assert LIST in LISTINGS and SAVE4 in LISTINGS
    assert ("nft", "-f", "-") not in LISTINGS


def test_a_repeated_listing_is_answered_from_the_first():
    inner = Counting()
    runner = ReusingRunner(inner)
    first = runner.run(LIST)
    assert runner.run(list(LIST)) == first
    assert runner.run(SAVE4).stdout == "answer 2"
    assert runner.run(LIST) == first  # another listing in between changes nothing
    assert [args for args, _data in inner.calls] == [LIST, SAVE4]
    assert runner.which("nft") == "/usr/sbin/nft"


def test_any_other_command_forgets_every_answer():
    inner = Counting()
    runner = ReusingRunner(inner)
    runner.run(LIST)
    runner.run(SAVE4)
    runner.run(("nft", "-f", "-"), "add table inet x\n")
    assert runner.run(LIST).stdout == "answer 4"
    assert runner.run(SAVE4).stdout == "answer 5"
    runner.run(("ufw", "status"))
    assert runner.run(LIST).stdout == "answer 7"


def test_a_listing_with_input_or_one_that_failed_is_never_kept():
    inner = Counting(failing={LIST})
    runner = ReusingRunner(inner)
    assert runner.run(LIST).rc == 1
    assert runner.run(LIST).stdout == "answer 2"
    assert len(inner.calls) == 2
    inner = Counting()
    runner = ReusingRunner(inner)
    runner.run(SAVE4)
    assert runner.run(SAVE4, "data").stdout == "answer 2"
    assert runner.run(SAVE4).stdout == "answer 3"
