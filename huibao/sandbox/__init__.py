"""The sandboxes of the remote systems: payment gateway, real-name registry and face service, insurer.

Each plays its remote system in-process for development, tests, demos and benchmarks, keeps its own
tables (`models`), fails like a remote system (`faults`), tells the platform of outcomes by signed
asynchronous notifications through one delivery mechanism (`notifications`, `tasks`), and serves
its hosted pages (`views`). Its adapters (`adapters`) register themselves with each domain port in
`SandboxConfig.ready()`: the domain apps never import this package. Production refuses these parts
unless `HUIBAO_ALLOW_SANDBOX` names them (`huibao.core.deployment`).
"""
