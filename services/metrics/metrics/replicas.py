"""Which replica's /metrics carries the floor's figures, so that Prometheus summing over replicas gets the truth.

Every replica could serve the figures (they are all-time totals read from MongoDB), but Prometheus scrapes each
replica as a target of its own: a `sum by (...)` over three replicas would say three times the truth. So only
the replica holding the sole consumer's lease exposes them (`SoleConsumer.holds_lease`); the others expose
only what is theirs: how old their snapshot is, and `telesales_metrics_floor_exposed` (0 or 1), whose sum
over the replicas is 1 while the figures are served.

The hand-over: a replica stops exposing a quarter of a lease before the lease it last wrote expires, and a
successor takes the lease only once it has expired, so two replicas never expose together (a gap of about
that quarter of a lease plus a standby's polling, shorter than one 30 s scrape interval, instead). The new
holder's series start at the all-time totals, where the old holder's stopped (plus what was counted
meanwhile): `rate()` and `increase()` see no reset and no jump on either series, and a sum over replicas of
them misses at most the increase between the two holders' scrapes on either side of the gap."""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

REPLICA_FAMILY_NAMES = ("telesales_metrics_snapshot_age_seconds", "telesales_metrics_floor_exposed")


class ReplicaGauges(Collector):
    """What every replica says of itself: its snapshot's age at the time of the scrape, and whether the
    scrape carries the floor's figures (set by the exposition for each scrape)."""

    def __init__(self) -> None:
        self.refreshed_at: float | None = None
        self.exposing = False

    def collect(self) -> Iterator[Metric]:
        age = GaugeMetricFamily("telesales_metrics_snapshot_age_seconds", "Seconds since the figures on /metrics "
                                "were last read from MongoDB or found current there (NaN before the first read); "
                                "every replica reads them, whether it exposes them or not.")
        age.add_metric([], float("nan") if self.refreshed_at is None else time.monotonic() - self.refreshed_at)
        yield age
        exposed = GaugeMetricFamily("telesales_metrics_floor_exposed", "1 on the replica whose /metrics carries "
                                    "the floor's figures (the holder of the counting lease), else 0: the sum over "
                                    "the replicas is 1 while they are served.")
        exposed.add_metric([], 1.0 if self.exposing else 0.0)
        yield exposed
