"""The application API: `router` (endpoints), `schemas` (shapes), `presenters` (state answers)."""
