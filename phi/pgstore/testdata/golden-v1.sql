-- Rows as schema version 1 of phi/pgstore stores them: one keyset at
-- version 3 and one tombstone. TestGoldenRows loads them after Migrate and
-- reads them through the Store; later schema versions must keep them readable.
INSERT INTO phi_keysets (ref, version, kek_id, ciphertext, key_ids, created_at, updated_at, shredded_at) VALUES
  ('patient-0001', 3, 'local:3f2a9c01', '\x010277726170706564feff', '{305441741,42}',
   '2026-01-02 03:04:05.000006+00', '2026-02-03 04:05:06.000007+00', NULL),
  ('patient-0002', 0, '', NULL, '{}',
   '2026-03-04 05:06:07.000008+00', '2026-03-04 05:06:07.000008+00', '2026-03-04 05:06:07.000008+00');
