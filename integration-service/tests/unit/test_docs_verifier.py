"""The verification snippet of docs/integrations.md accepts what the service signs and
refuses tampered and replayed deliveries (so the docs stay true)."""
import re
import time
from pathlib import Path

import pytest

from integration_service import signing

DOC = Path(__file__).resolve().parents[3] / "docs" / "integrations.md"


@pytest.fixture(scope="module")
def verify_webhook():
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.DOTALL)
    (snippet,) = [b for b in blocks if "def verify_webhook" in b]
    namespace: dict = {}
    exec(compile(snippet, str(DOC), "exec"), namespace)
    return namespace["verify_webhook"]


def test_the_documented_verifier_accepts_a_delivery_signed_by_the_service(verify_webhook):
    body = b'{"id":"d-1","type":"ticket.created"}'
    verify_webhook("whsec_x", signing.sign("whsec_x", body), body)


@pytest.mark.parametrize("secret, body, age", [
    ("whsec_other", b'{"id":"d-1"}', 0), ("whsec_x", b'{"id":"d-2"}', 0),
    ("whsec_x", b'{"id":"d-1"}', 301)])
def test_the_documented_verifier_refuses_wrong_tampered_and_replayed(verify_webhook, secret,
                                                                     body, age):
    header = signing.sign("whsec_x", b'{"id":"d-1"}', int(time.time()) - age)
    with pytest.raises(ValueError):
        verify_webhook(secret, header, body)
