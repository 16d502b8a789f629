"""Kafka SASL/TLS for real.

An Apache Kafka node of this module's own serves, besides its plain internal listener, a TLS listener that
demands a client certificate (mutual TLS, certificates made here) and a SASL_SSL listener with SCRAM users
created when its storage is formatted. Every kind of client a service builds (its FastStream broker, the
outbox relay's producer, topic creation, a consumer) works over each; wrong settings are refused."""

from __future__ import annotations

import asyncio
import signal
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaConnectionError, KafkaError

from telesales_runtime.kafka import (
    client_security,
    create_broker,
    create_producer,
    ensure_topics,
)
from telesales_runtime.settings import ServiceSettings
from telesales_testkit.infra import free_port, load_stack_module
from telesales_testkit.pki import Pki

# ----------------------------------------------------------------------------- real TLS and SASL
SCRAM_USERS = {"SCRAM-SHA-512": ("intake", "intake-secret-512"), "SCRAM-SHA-256": ("ledger", "ledger-secret-256")}


@dataclass(frozen=True)
class SecureBroker:
    tls_port: int  # SSL, client certificate required
    sasl_port: int  # SASL_SSL, SCRAM-SHA-256 and SCRAM-SHA-512


@pytest.fixture(scope="module")
def secure_broker(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    """A private Apache Kafka node with a mutual-TLS listener and a SCRAM listener over TLS, both advertised
    as localhost (the name the server certificate carries)."""
    stack = load_stack_module()
    workdir = tmp_path_factory.mktemp("secure-broker")
    keystore = workdir / "server-keystore.pem"  # Kafka's PEM key store: the private key, then the certificate
    keystore.write_bytes(pki.server_key.read_bytes() + pki.server_cert.read_bytes())
    plain, tls, sasl, controller = free_port(), free_port(), free_port(), free_port()
    tls_options = {"ssl.keystore.type": "PEM", "ssl.keystore.location": str(keystore),
                   "ssl.truststore.type": "PEM", "ssl.truststore.location": str(pki.ca)}
    overrides = {
        "listeners": f"PLAINTEXT://127.0.0.1:{plain},SSL://127.0.0.1:{tls},SASL_SSL://127.0.0.1:{sasl},"
                     f"CONTROLLER://127.0.0.1:{controller}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{plain},SSL://localhost:{tls},SASL_SSL://localhost:{sasl}",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT",
        **{f"listener.name.ssl.{key}": value for key, value in tls_options.items()},
        "listener.name.ssl.ssl.client.auth": "required",
        **{f"listener.name.sasl_ssl.{key}": value for key, value in tls_options.items()},
        "listener.name.sasl_ssl.sasl.enabled.mechanisms": ",".join(SCRAM_USERS),
        **{f"listener.name.sasl_ssl.{m.lower()}.sasl.jaas.config":
           "org.apache.kafka.common.security.scram.ScramLoginModule required;" for m in SCRAM_USERS},
    }
    users = [arg for mechanism, (user, password) in SCRAM_USERS.items()
             for arg in ("--add-scram", f"{mechanism}=[name={user},password={password}]")]
    node = stack.kafka_node.KafkaNode(data_dir=workdir / "kafka", port=plain, controller_port=controller,
                                      cache_dir=stack.local_dir() / "kafka", overrides=overrides,
                                      format_args=tuple(users))
    log_path = workdir / "kafka.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(node.prepare(), cwd=workdir, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        for _ in range(600):
            if stack.kafka_answers(plain):
                break
            assert proc.poll() is None, log_path.read_text()[-5000:]
            time.sleep(0.1)
        stack.kafka_node.create_topics(node.bootstrap, ["tls.check.v1", "sasl.check.v1"], 1)
        yield SecureBroker(tls, sasl)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def tls_settings(pki: Pki, port: int, **overrides: Any) -> ServiceSettings:
    values: dict[str, Any] = {"service_name": "tls-test", "kafka_bootstrap": f"localhost:{port}",
                              "kafka_security_protocol": "SSL", "kafka_ssl_ca_file": pki.ca,
                              "kafka_ssl_cert_file": pki.client_cert, "kafka_ssl_key_file": pki.client_key}
    return ServiceSettings(**(values | overrides))


async def every_client_round_trip(settings: ServiceSettings, topic: str) -> list[bytes]:
    """Topic creation, the relay's producer and the service's broker publish; a consumer reads it all back."""
    security = client_security(settings)
    await asyncio.wait_for(ensure_topics(settings.kafka_bootstrap, [topic], 1, 1, security=security), 30)

    producer = create_producer(settings, "outbox")
    await asyncio.wait_for(producer.start(), 30)
    try:
        await producer.send_and_wait(topic, b"from the relay producer", key=b"k1")
    finally:
        await producer.stop()

    broker = create_broker(settings)
    await asyncio.wait_for(broker.start(), 30)
    try:
        await broker.publish(b"from the service broker", topic=topic, key=b"k2")
    finally:
        await broker.stop()

    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False, **security)
    await asyncio.wait_for(consumer.start(), 30)
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        consumer.seek(tp, 0)
        seen: list[bytes] = []
        for _ in range(20):
            for records in (await consumer.getmany(timeout_ms=500)).values():
                seen += [r.value for r in records]
            if len(seen) >= 2:
                break
    finally:
        await consumer.stop()
    return seen


async def test_every_client_works_over_mutual_tls(pki: Pki, secure_broker: SecureBroker) -> None:
    seen = await every_client_round_trip(tls_settings(pki, secure_broker.tls_port), "tls.check.v1")
    assert seen == [b"from the relay producer", b"from the service broker"]


def sasl_settings(pki: Pki, port: int, mechanism: str, **overrides: Any) -> ServiceSettings:
    user, password = SCRAM_USERS[mechanism]
    values: dict[str, Any] = {"service_name": "sasl-test", "kafka_bootstrap": f"localhost:{port}",
                              "kafka_security_protocol": "SASL_SSL", "kafka_sasl_mechanism": mechanism,
                              "kafka_sasl_username": user, "kafka_sasl_password": password,
                              "kafka_ssl_ca_file": pki.ca}
    return ServiceSettings(**(values | overrides))


@pytest.mark.parametrize("mechanism", list(SCRAM_USERS))
async def test_every_client_works_over_sasl_scram(pki: Pki, secure_broker: SecureBroker, mechanism: str) -> None:
    seen = await every_client_round_trip(sasl_settings(pki, secure_broker.sasl_port, mechanism), "sasl.check.v1")
    assert seen[-2:] == [b"from the relay producer", b"from the service broker"]


@pytest.mark.parametrize("case", ["wrong password", "unknown user", "other mechanism's user", "no SASL"])
async def test_a_client_without_the_right_sasl_credentials_is_refused(pki: Pki, secure_broker: SecureBroker,
                                                                      case: str) -> None:
    port = secure_broker.sasl_port
    settings = {
        "wrong password": lambda: sasl_settings(pki, port, "SCRAM-SHA-512", kafka_sasl_password="guess"),
        "unknown user": lambda: sasl_settings(pki, port, "SCRAM-SHA-512", kafka_sasl_username="mallory"),
        # the SCRAM-SHA-256 user has no SCRAM-SHA-512 credentials
        "other mechanism's user": lambda: sasl_settings(pki, port, "SCRAM-SHA-512",
                                                        kafka_sasl_username=SCRAM_USERS["SCRAM-SHA-256"][0],
                                                        kafka_sasl_password=SCRAM_USERS["SCRAM-SHA-256"][1]),
        "no SASL": lambda: tls_settings(pki, port, kafka_ssl_cert_file=None, kafka_ssl_key_file=None),
    }[case]()
    with pytest.raises((KafkaConnectionError, KafkaError, ssl.SSLError, ConnectionError, asyncio.TimeoutError)):
        await _producer_connects(settings)


async def _producer_connects(settings: ServiceSettings) -> None:
    producer = create_producer(settings, "probe")
    try:
        await asyncio.wait_for(producer.start(), 30)
    finally:
        await producer.stop()


@pytest.mark.parametrize("case", ["plaintext", "unknown CA", "host name", "no client certificate"])
async def test_a_client_without_the_right_tls_settings_is_refused(pki: Pki, secure_broker: SecureBroker,
                                                                   case: str) -> None:
    tls_broker = secure_broker.tls_port
    settings = {
        "plaintext": lambda: ServiceSettings(kafka_bootstrap=f"localhost:{tls_broker}"),
        "unknown CA": lambda: tls_settings(pki, tls_broker, kafka_ssl_ca_file=pki.other_ca),
        # the certificate names localhost, not 127.0.0.1
        "host name": lambda: tls_settings(pki, tls_broker, kafka_bootstrap=f"127.0.0.1:{tls_broker}"),
        "no client certificate": lambda: tls_settings(pki, tls_broker, kafka_ssl_cert_file=None,
                                                      kafka_ssl_key_file=None),
    }[case]()
    with pytest.raises((KafkaConnectionError, ssl.SSLError, ConnectionError, asyncio.TimeoutError)):
        await _producer_connects(settings)


async def test_the_host_name_check_can_be_turned_off(pki: Pki, secure_broker: SecureBroker) -> None:
    port = secure_broker.tls_port
    await _producer_connects(tls_settings(pki, port, kafka_bootstrap=f"127.0.0.1:{port}",
                                          kafka_ssl_check_hostname=False))
