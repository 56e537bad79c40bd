-- hipaakit deployment tables, PostgreSQL schema version 2 (see describe.go).

-- One row per replica (instance ID): the service description it wrote at
-- its last start (serviceconfig.Config as JSON, without secrets). Each
-- replica replaces only its own row, so replicas never overwrite each
-- other; the compliance report reads every row and states the weakest
-- policy in force across the deployment.
CREATE TABLE hipaakit_service_descriptions (
    instance    text COLLATE "C" PRIMARY KEY,
    description jsonb       NOT NULL,
    written_at  timestamptz NOT NULL
);
