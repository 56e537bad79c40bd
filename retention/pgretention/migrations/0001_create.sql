-- Legal holds: never deleted; lifting sets lifted_*.
CREATE TABLE hipaakit_legal_holds (
    id          text        PRIMARY KEY,
    subject     text        NOT NULL DEFAULT '',
    kind        text        NOT NULL DEFAULT '',
    reason      text        NOT NULL,
    set_by      text        NOT NULL,
    set_at      timestamptz NOT NULL,
    lifted_by   text        NOT NULL DEFAULT '',
    lifted_at   timestamptz,
    lift_reason text        NOT NULL DEFAULT '',
    CHECK (subject <> '' OR kind <> '')
);

-- Sweep cursors, one row per named sweep.
CREATE TABLE hipaakit_retention_sweeps (
    name       text        PRIMARY KEY,
    after      text        NOT NULL DEFAULT '',
    updated_at timestamptz NOT NULL DEFAULT now()
);
