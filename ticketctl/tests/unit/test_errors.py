"""The one table of exit codes: unreachable is 2 whichever layer says so, refusals are 1."""
import pytest

from ai_categorization_service.registry import VersionNotFoundError
from analytics_service.rebuild import RebuildError
from support_shared.messaging import dead_letters
from ticketctl.accounts import Refused
from ticketctl.errors import EXPECTED, NotConfirmed, Unavailable, exit_code


@pytest.mark.parametrize("error, code", [
    (Unavailable("ticket-service down"), 2),
    (dead_letters.Unavailable("broker down"), 2),
    (dead_letters.QueueNotFound("no queue"), 1),
    (dead_letters.QueueRefused("not a dlq"), 1),
    (NotConfirmed("no --yes"), 1),
    (Refused(409, "conflict", "exists"), 1),
    (RebuildError("tables missing"), 1),
    (VersionNotFoundError("v404"), 1),
])
def test_each_expected_failure_has_its_exit_code(error, code):
    assert isinstance(error, EXPECTED)
    assert exit_code(error) == code


def test_an_unexpected_error_is_not_in_the_table():
    assert not isinstance(RuntimeError("bug"), EXPECTED)   # a traceback, not a message
