"""Shared test kit: fakes of the outside SaaS HybridFlow talks to (the LLM
providers' APIs) and generators of test data (hostile webhook bodies).

tests/, bench/ and ops/ all import from here, so none of them reaches into
another's folder. Nothing here is product code: python_services never
imports it."""
