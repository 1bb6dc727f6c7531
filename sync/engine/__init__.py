"""The engine: what every step runs on, below the steps.

- context: StepContext / StepResult, what a step gets and gives back;
- outbox: the outbound record's moves (pending → sent → confirmed / failed /
  waiting), bounded retries, needs-a-person, history, projections;
- exporter: the exporter contract and the one loop that runs every kind;
- lease: one run of a tenant at a time; pipeline: one cycle of a tenant;
- crashpoints: where the fault suite may kill a run.

Nothing here imports a step: steps import the engine.
"""
