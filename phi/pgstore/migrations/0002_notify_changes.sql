-- phi/pgstore schema version 2: every change to a stored keyset (an update:
-- rotation or re-wrap; a shred, which updates the row into a tombstone; a
-- delete, which the store never does) announces the reference with NOTIFY
-- on the channel 'hipaakit_keys_' || md5(schema), in the transaction of the
-- change, so that it is delivered to every listening process exactly when
-- the change commits. Inserts (a new keyset, a tombstone for a reference
-- never stored) need no announcement: nobody can have cached keys that did
-- not exist.
CREATE FUNCTION phi_keysets_announce() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('hipaakit_keys_' || md5(TG_TABLE_SCHEMA), coalesce(NEW.ref, OLD.ref));
    RETURN NULL;
END $$;

CREATE TRIGGER phi_keysets_changed
    AFTER UPDATE OR DELETE ON phi_keysets
    FOR EACH ROW EXECUTE FUNCTION phi_keysets_announce();
