-- docker compose: the Postgres image runs this once on a new volume, so n8n
-- has its own database beside HybridFlow's.
CREATE DATABASE hybridflow_n8n;
