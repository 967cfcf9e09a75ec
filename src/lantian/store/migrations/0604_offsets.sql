-- Offsets: whether the project's area fails the ambient standard (倍量削减 applies). Owner: ledgers.
ALTER TABLE offset_project ADD COLUMN IF NOT EXISTS non_attaining BOOLEAN DEFAULT TRUE;
