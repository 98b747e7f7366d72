"""The live test bed: real containers in pods as emulated hosts, real faults, CRIU migration.

`pregan.testbed.capabilities.probe()` says whether this machine can run it (and why not);
`pregan.testbed.backend.TestbedBackend` speaks the simulator's live interface over it.
Nothing in simulation, data or models imports this package.
"""
