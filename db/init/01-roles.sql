-- docker compose: the Postgres image runs this once, as the superuser, on a
-- new volume. n8n and the services get roles of their own, each owning its
-- database only (never the superuser, never each other's data); the passwords
-- come from the postgres container's environment (docker-compose.yml).
\getenv hybridflow_password HYBRIDFLOW_DB_PASSWORD
\getenv n8n_password N8N_DB_PASSWORD

CREATE ROLE hybridflow LOGIN PASSWORD :'hybridflow_password'
    NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION;
CREATE ROLE hybridflow_n8n LOGIN PASSWORD :'n8n_password'
    NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION;

-- HybridFlow's database (POSTGRES_DB) belongs to its role: the migrations run as it
ALTER DATABASE hybridflow OWNER TO hybridflow;
REVOKE ALL ON DATABASE hybridflow FROM PUBLIC;
\connect hybridflow
ALTER SCHEMA public OWNER TO hybridflow;

-- n8n's own database beside it
\connect postgres
CREATE DATABASE hybridflow_n8n OWNER hybridflow_n8n;
REVOKE ALL ON DATABASE hybridflow_n8n FROM PUBLIC;
