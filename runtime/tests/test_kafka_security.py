"""Kafka SASL/TLS from the settings: what each client is given, and the settings refused at start. The
same clients over a real TLS and SASL broker: integration/test_kafka_security_broker.py."""

from __future__ import annotations

import ssl
from typing import Any

import pytest
from pydantic import ValidationError

from telesales_runtime.kafka import (
    client_security,
    create_broker,
    create_producer,
    kafka_security,
)
from telesales_runtime.settings import ServiceSettings
from telesales_testkit.pki import Pki


# ----------------------------------------------------------------------------- settings
def test_plaintext_gives_the_clients_nothing() -> None:
    settings = ServiceSettings()
    assert kafka_security(settings) is None
    assert client_security(settings) == {}


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
async def test_sasl_plaintext_gives_every_client_the_mechanism_and_credentials(mechanism: str) -> None:
    settings = ServiceSettings(kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_mechanism=mechanism,
                               kafka_sasl_username="intake", kafka_sasl_password="s3cret")
    expected = {"security_protocol": "SASL_PLAINTEXT", "ssl_context": None, "sasl_mechanism": mechanism,
                "sasl_plain_username": "intake", "sasl_plain_password": "s3cret"}
    assert client_security(settings) == expected

    # the service's FastStream broker: its consumers are built with exactly these ...
    broker = create_broker(settings)
    builder_kwargs = broker.config.broker_config.builder.keywords
    assert {k: builder_kwargs[k] for k in expected} == expected
    # ... and so is the raw producer of the outbox relay
    producer = create_producer(settings, "outbox")
    client = producer.client
    assert (client._security_protocol, client._sasl_mechanism, client._sasl_plain_username,  # noqa: SLF001
            client._sasl_plain_password) == ("SASL_PLAINTEXT", mechanism, "intake", "s3cret")  # noqa: SLF001


async def test_sasl_ssl_and_ssl_carry_a_tls_context(pki: Pki) -> None:
    settings = ServiceSettings(kafka_security_protocol="SASL_SSL", kafka_sasl_username="u", kafka_sasl_password="p",
                               kafka_ssl_ca_file=pki.ca)
    security = client_security(settings)
    assert security["security_protocol"] == "SASL_SSL" and security["sasl_mechanism"] == "SCRAM-SHA-512"
    context = security["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname

    tls = client_security(ServiceSettings(kafka_security_protocol="SSL", kafka_ssl_ca_file=pki.ca,
                                          kafka_ssl_check_hostname=False))
    assert tls["security_protocol"] == "SSL" and "sasl_mechanism" not in tls
    assert tls["ssl_context"].verify_mode == ssl.CERT_REQUIRED and not tls["ssl_context"].check_hostname
    producer = create_producer(ServiceSettings(kafka_security_protocol="SSL"), "outbox")
    assert producer.client._security_protocol == "SSL"  # noqa: SLF001
    assert producer.client._ssl_context is not None  # noqa: SLF001 - the system's CAs


def test_settings_come_from_the_shared_environment_and_hide_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELESALES_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("TELESALES_KAFKA_SASL_MECHANISM", "SCRAM-SHA-256")
    monkeypatch.setenv("TELESALES_KAFKA_SASL_USERNAME", "ledger")
    monkeypatch.setenv("TELESALES_KAFKA_SASL_PASSWORD", "very-secret")
    settings = ServiceSettings()
    assert client_security(settings)["sasl_plain_password"] == "very-secret"
    assert "very-secret" not in repr(settings) and "very-secret" not in str(settings.model_dump())


@pytest.mark.parametrize(("given", "complaint"), [
    ({"kafka_security_protocol": "SASL_SSL"}, "needs kafka_sasl_username"),
    ({"kafka_security_protocol": "SASL_PLAINTEXT", "kafka_sasl_username": "u"}, "needs kafka_sasl_password"),
    ({"kafka_security_protocol": "SASL_PLAINTEXT", "kafka_sasl_username": "u", "kafka_sasl_password": ""},
     "needs kafka_sasl_password"),
    ({"kafka_sasl_username": "u", "kafka_sasl_password": "p"}, "does not use SASL"),
    ({"kafka_security_protocol": "SASL_PLAINTEXT", "kafka_sasl_username": "u", "kafka_sasl_password": "p",
      "kafka_ssl_ca_file": "CA"}, "does not use TLS"),
    ({"kafka_security_protocol": "SSL", "kafka_ssl_cert_file": "CERT"}, "go together"),
    ({"kafka_security_protocol": "SSL", "kafka_ssl_ca_file": "/nonexistent/ca.pem"}, "is not a readable file"),
    ({"kafka_security_protocol": "SSL", "kafka_ssl_key_password": "x"}, "without kafka_ssl_key_file"),
    ({"kafka_security_protocol": "TLS"}, "kafka_security_protocol"),
    ({"kafka_security_protocol": "SASL_SSL", "kafka_sasl_mechanism": "GSSAPI", "kafka_sasl_username": "u",
      "kafka_sasl_password": "p"}, "kafka_sasl_mechanism"),
])
def test_inconsistent_settings_are_refused_at_start(pki: Pki, given: dict[str, Any], complaint: str) -> None:
    files = {"CA": str(pki.ca), "CERT": str(pki.client_cert)}
    given = {k: files.get(v, v) if isinstance(v, str) else v for k, v in given.items()}
    with pytest.raises(ValidationError) as caught:
        ServiceSettings(**given)
    assert complaint in str(caught.value)


def test_tls_files_that_are_not_what_they_should_be_are_refused_clearly(pki: Pki) -> None:
    with pytest.raises(ValueError, match="kafka_ssl_ca_file=.*not a readable PEM CA certificate"):
        kafka_security(ServiceSettings(kafka_security_protocol="SSL", kafka_ssl_ca_file=pki.server_key))
    with pytest.raises(ValueError, match="not a PEM certificate and its key"):  # the key of another certificate
        kafka_security(ServiceSettings(kafka_security_protocol="SSL", kafka_ssl_ca_file=pki.ca,
                                       kafka_ssl_cert_file=pki.client_cert, kafka_ssl_key_file=pki.server_key))
