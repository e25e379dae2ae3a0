-- One database per service on the shared PostgreSQL server of docker-compose.yml. Run once, by
-- the postgres image's entrypoint, when its data volume is empty (as the `crm` superuser, who
-- then owns them). Each service gets the URL of its own database only; the services create
-- their tables themselves (Alembic migrations on start).
\set ON_ERROR_STOP on

CREATE DATABASE crm_identity;
CREATE DATABASE crm_contacts;
CREATE DATABASE crm_deals;
CREATE DATABASE crm_quotes;
CREATE DATABASE crm_campaigns;
CREATE DATABASE crm_reporting;
CREATE DATABASE crm_canvas;
