"""`ldv demo`: the Fieldlab demo case (Linda) as real services with the LDV SDK, on `ldv serve`.

`ldv_suite.demo.run.run_demo(DemoOptions(...), console)` runs it; `ldv_suite.demo.services`
holds the organisation services (each its own process), `ldv_suite.demo.scenario` the
requests, `ldv_suite.demo.keys` the demo's secrets. See demo/README.md.

Nothing is imported here: the service processes import only what they use.
"""
