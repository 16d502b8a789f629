"""Tools that drive the platform from outside, through its public interfaces only (Kafka topics and
HTTP APIs): `tsctl` for operators' daily jobs and the call-center day simulator (`make demo`). Nothing
here imports a service package; the event contracts come from `telesales_contracts`."""
