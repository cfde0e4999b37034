"""Evidence (可回溯) of an application: what the customer saw and did, step by step, from the audit chain.

Every step of the flow is an entry of the tamper-evident audit chain (`trace.record_step`): the
application's own entries (`application.*`), and those of its payments, identity and face checks,
underwriting cases and policies.

- `trace`: writing the steps (and the page template versions shown).
- `timeline`: reading them in chain order (`seq`), each a readable Chinese line (`describe`) with
  its actor, time, IP, user agent, the page and page version shown, the document version shown,
  and the time since the step before.
- `proof`: the hash of each of these entries recomputed, each linked to the entry before it in the
  chain, and the whole chain verified.
- `masked`: the data the customer confirmed, masked (personal data never appears in plain text).
- `export`: the evidence as a JSON file or a PAdES-signed PDF; every export is itself recorded.
- `verification`: a returned evidence file checked against the chain.
"""
