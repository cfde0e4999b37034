"""Application use-cases: from quotes to a confirmed, read, verified, signed and paid application.

One module per step of the journey; each use-case takes the application (or a `Target` from
`huibao.application.selectors`), locks its row (`_common._locked`), checks the state machine and
the rules, changes what it must in one transaction and records the step in the audit chain
(`trace.record_step`). Invalid input raises `ValidationFailed` with one `FieldError` per problem
and changes nothing. Reads and access checkpoints are in `huibao.application.selectors`; what
stands before each step in `huibao.application.journey`.

The order a customer goes through (the web pages and `/api/v1` follow it; the server enforces
every prerequisite, not the page):

1. `start.start_application` from one or more quotes (a bundle), by the customer or by an agent;
   `invitation.invite_customer` gives an agent's link/QR for the customer (no signing by proxy).
2. `data.save_data`: applicant, insured persons, beneficiaries, subject, health answers. Any
   change after the customer confirmed sends the whole application back to draft.
3. `identity.verify_identity` (real name + ID through the identity provider).
4. `confirm.confirm` by the customer: locks the data (revision + digest) and underwrites it →
   accepted / referred to an underwriter / declined. `confirm.agree_terms` when there is a loading
   or an exclusion.
5. `disclosure`: `open_document` / `finish_reading` (server-timed), key clauses one by one
   (`show_clause` / `confirm_clause`); `identity.start_face_check` when the rules ask for it.
6. `sign.sign`: handwritten (checked) or by confirmation, the applicant and, where the law needs
   the insured's consent, the insured; then the application form PDF is made and PAdES-signed.
7. `pay.pay`: a real-name payment of the applicant; the payment's "paid" hook issues the policies
   in the same transaction (`pay.on_payment_confirmed`).
8. `close`: expiry and cancellation of an application that will not be issued.

The engines the application uses (payment, identity, underwriting, policy) never import these
modules: they announce what happened through their hooks (`huibao.core.hooks`), which
`ApplicationConfig.ready()` registers the listeners of.
"""
